package operators_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/internal/chantest"
	"github.com/zkmirror/zkmirror/leaktest"
	"github.com/zkmirror/zkmirror/operators"
)

func snapshotOf(v int) zkmirror.Value {
	return zkmirror.Value{Path: "/n", Data: []byte(strconv.Itoa(v)), Exists: true}
}

// TestCancelEndsEverything cancels ctx while the inputs stay open and the reader has
// stopped reading: every operator's goroutine must end (leaktest checks it) and, for a
// reader that comes back, the output must be closed.
func TestCancelEndsEverything(t *testing.T) {
	never := make(chan int) // an input that stays open and silent
	tests := []struct {
		name  string
		start func(ctx context.Context, in <-chan int) any // returns the output channel
		reads int                                          // items read before the reader stops
	}{
		{"Map", func(ctx context.Context, in <-chan int) any {
			return operators.Map(ctx, in, strconv.Itoa)
		}, 2},
		{"Filter", func(ctx context.Context, in <-chan int) any {
			return operators.Filter(ctx, in, func(v int) bool { return v%2 == 0 })
		}, 2},
		{"Scan", func(ctx context.Context, in <-chan int) any {
			return operators.Scan(ctx, in, 0, func(a, v int) int { return a + v })
		}, 2},
		{"Distinct", func(ctx context.Context, in <-chan int) any {
			return operators.Distinct(ctx, in)
		}, 2},
		{"DistinctFunc", func(ctx context.Context, in <-chan int) any {
			return operators.DistinctFunc(ctx, in, func(a, b int) bool { return a == b })
		}, 2},
		{"Debounce", func(ctx context.Context, in <-chan int) any {
			// The input never pauses: nothing is due, a pending item is dropped.
			return operators.Debounce(ctx, in, time.Hour)
		}, 0},
		{"Debounce blocked", func(ctx context.Context, in <-chan int) any {
			// A short quiet on a slowed input: an item is due and blocked on the output.
			return operators.Debounce(ctx, slow(ctx, in), time.Millisecond)
		}, 1},
		{"Throttle", func(ctx context.Context, in <-chan int) any {
			return operators.Throttle(ctx, in, time.Millisecond)
		}, 2},
		{"Debounce no delay", func(ctx context.Context, in <-chan int) any {
			return operators.Debounce(ctx, in, 0)
		}, 2},
		{"Throttle no delay", func(ctx context.Context, in <-chan int) any {
			return operators.Throttle(ctx, in, -time.Second)
		}, 2},
		{"Merge", func(ctx context.Context, in <-chan int) any {
			return operators.Merge(ctx, in, never)
		}, 2},
		{"CombineLatest", func(ctx context.Context, in <-chan int) any {
			return operators.CombineLatest(ctx, in, in)
		}, 2},
		{"CombineLatest waiting", func(ctx context.Context, in <-chan int) any {
			return operators.CombineLatest(ctx, in, never)
		}, 0},
		{"CombineLatest2", func(ctx context.Context, in <-chan int) any {
			return operators.CombineLatest2(ctx, in, in, func(a, b int) int { return a + b })
		}, 2},
		{"CombineLatest3", func(ctx context.Context, in <-chan int) any {
			return operators.CombineLatest3(ctx, in, in, in, func(a, b, c int) int { return a + b + c })
		}, 2},
		{"DecodeJSON", func(ctx context.Context, in <-chan int) any {
			return operators.DecodeJSON[int](ctx, operators.Map(ctx, in, snapshotOf))
		}, 2},
		{"Hold", func(ctx context.Context, in <-chan int) any {
			// The subscription closes when the Stream does, which Hold does when ctx ends.
			return operators.Hold(ctx, in).Subscribe(context.Background())
		}, 1},
	}
	for _, tt := range tests {
		for _, drain := range []bool{false, true} {
			name := tt.name + "/reader gone"
			if drain {
				name = tt.name + "/reader back"
			}
			t.Run(name, func(t *testing.T) {
				leaktest.Check(t)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				out := tt.start(ctx, chantest.Endless(ctx))
				for range tt.reads {
					recvAny(t, out)
				}
				// Give the operator time to block on its output or input, then cancel.
				time.Sleep(5 * time.Millisecond)
				cancel()
				if drain {
					drainAny(t, out)
				}
			})
		}
	}
}

// slow forwards in with a pause before each item, so that a short debounce fires.
func slow(ctx context.Context, in <-chan int) <-chan int {
	out := make(chan int)
	go func() {
		defer close(out)
		for {
			select {
			case v := <-in:
				time.Sleep(5 * time.Millisecond)
				select {
				case out <- v:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// TestCancelStopsDelivery checks that once ctx has ended nothing more is delivered, even
// to a reader that is ready.
func TestCancelStopsDelivery(t *testing.T) {
	leaktest.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	out := operators.Map(ctx, chantest.Endless(ctx), func(v int) int { return v })
	chantest.RecvOne(t, out)
	cancel()
	// At most the item already in flight when cancel was called can still come.
	n := len(chantest.Collect(t, out))
	if n > 1 {
		t.Fatalf("got %d items after cancel, want at most 1", n)
	}
}
