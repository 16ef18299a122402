package operators_test

import (
	"context"
	"fmt"
	"time"

	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/operators"
)

func ExampleDebounce() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Someone types a search query; each keystroke is an item.
	keys := make(chan string)
	printed := make(chan struct{})
	go func() {
		defer close(keys)
		for i, burst := range [][]string{{"z", "zk", "zkm"}, {"zkmi", "zkmir"}} {
			if i > 0 {
				select {
				case <-printed: // a pause longer than the quiet period
				case <-ctx.Done():
					return
				}
			}
			for _, q := range burst {
				select { // every send also selects on ctx.Done: cancel ends this goroutine
				case keys <- q:
				case <-ctx.Done():
					return
				}
			}
		}
		// The input closes while "zkmir" waits for its quiet period: it is sent at once.
	}()

	for q := range operators.Debounce(ctx, keys, 250*time.Millisecond) {
		fmt.Println("search", q)
		if q == "zkm" {
			close(printed)
		}
	}
	// Output:
	// search zkm
	// search zkmir
}

func ExampleCombineLatest() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	host := make(chan string)
	port := make(chan string)
	send := func(ch chan<- string, v string) bool {
		select { // every send also selects on ctx.Done: cancel ends the goroutine below
		case ch <- v:
			return true
		case <-ctx.Done():
			return false
		}
	}
	go func() {
		defer close(port)
		ok := send(host, "alpha") &&
			send(port, "2181") && // both inputs have a value: the first slice is sent
			send(host, "beta") // every later change sends a slice
		close(host)
		if ok {
			send(port, "2182") // a closed input keeps its latest value
		}
	}()

	for addr := range operators.CombineLatest(ctx, host, port) {
		fmt.Println(addr)
	}
	// Output:
	// [alpha 2181]
	// [beta 2181]
	// [beta 2182]
}

func ExampleCombineLatest2() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	replicas := make(chan int)
	enabled := make(chan bool)
	go func() {
		defer close(enabled)
		defer close(replicas)
		// Every send also selects on ctx.Done: cancel ends this goroutine.
		select {
		case replicas <- 3:
		case <-ctx.Done():
			return
		}
		select {
		case enabled <- true:
		case <-ctx.Done():
			return
		}
		select {
		case replicas <- 5:
		case <-ctx.Done():
			return
		}
	}()

	desired := operators.CombineLatest2(ctx, replicas, enabled, func(n int, on bool) int {
		if !on {
			return 0
		}
		return n
	})
	for n := range desired {
		fmt.Println("desired replicas:", n)
	}
	// Output:
	// desired replicas: 3
	// desired replicas: 5
}

func ExampleDecodeJSON() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	type Limits struct {
		MaxConns int `json:"maxConns"`
	}

	// Snapshots as Node.Watch sends them.
	snapshots := make(chan zkmirror.Value)
	go func() {
		defer close(snapshots)
		for _, s := range []zkmirror.Value{
			{Path: "/limits", Data: []byte(`{"maxConns":100}`), Exists: true, Stat: zkmirror.Stat{Version: 0}},
			{Path: "/limits", Data: []byte(`{"maxConns":`), Exists: true, Stat: zkmirror.Stat{Version: 1}},
			{Path: "/limits", Exists: false},
			{Path: "/limits", Data: []byte(`{"maxConns":250}`), Exists: true, Stat: zkmirror.Stat{Version: 0}}, // re-created
		} {
			select { // every send also selects on ctx.Done: cancel ends this goroutine
			case snapshots <- s:
			case <-ctx.Done():
				return
			}
		}
	}()

	for d := range operators.DecodeJSON[Limits](ctx, snapshots) {
		switch {
		case d.Err != nil:
			fmt.Println("error:", d.Err)
		case !d.Exists:
			fmt.Println("no limits")
		default:
			fmt.Printf("maxConns=%d (version %d)\n", d.Value.MaxConns, d.Snapshot.Stat.Version)
		}
	}
	// Output:
	// maxConns=100 (version 0)
	// error: operators: decoding JSON of /limits: unexpected end of JSON input
	// no limits
	// maxConns=250 (version 0)
}

func ExampleHold() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	in := make(chan string)
	s := operators.Hold(ctx, in)
	select { // every send also selects on ctx.Done
	case in <- "v1":
	case <-ctx.Done():
		return
	}

	v, err := s.Wait(ctx)
	fmt.Println(v, err)
	close(in)
	// Output:
	// v1 <nil>
}
