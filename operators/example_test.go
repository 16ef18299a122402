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
		for _, q := range []string{"z", "zk", "zkm"} {
			keys <- q
		}
		<-printed // a pause longer than the quiet period
		for _, q := range []string{"zkmi", "zkmir"} {
			keys <- q
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
	go func() {
		host <- "alpha"
		port <- "2181" // both inputs have a value: the first slice is sent
		host <- "beta" // every later change sends a slice
		close(host)
		port <- "2182" // a closed input keeps its latest value
		close(port)
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
		replicas <- 3
		enabled <- true
		replicas <- 5
		close(replicas)
		close(enabled)
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
			snapshots <- s
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
	in <- "v1"

	v, err := s.Wait(ctx)
	fmt.Println(v, err)
	close(in)
	// Output:
	// v1 <nil>
}
