package rx_test

import (
	"context"
	"fmt"

	"github.com/reactivex/rxgo/v2"
	"github.com/zkmirror/zkmirror/operators/rx"
)

func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // ends every goroutine of the pipeline, RxGo's included

	in := make(chan int)
	go func() {
		defer close(in)
		for i := 1; i <= 6; i++ {
			select { // every send also selects on ctx.Done: cancel ends this goroutine
			case in <- i:
			case <-ctx.Done():
				return
			}
		}
	}()

	obs := rx.ToObservable(ctx, in).
		Map(func(_ context.Context, v any) (any, error) {
			return v.(int) * 10, nil
		}, rxgo.WithContext(ctx)).
		Filter(func(v any) bool {
			return v.(int) > 20
		}, rxgo.WithContext(ctx))

	for r := range rx.FromObservable[int](ctx, obs) {
		if r.Err != nil {
			fmt.Println("error:", r.Err)
			continue
		}
		fmt.Println(r.Value)
	}
	// Output:
	// 30
	// 40
	// 50
	// 60
}
