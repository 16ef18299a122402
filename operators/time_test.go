package operators_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/zkmirror/zkmirror/internal/chantest"
	"github.com/zkmirror/zkmirror/leaktest"
	"github.com/zkmirror/zkmirror/operators"
)

// sendBurst sends items on in one after the other and returns how long that took.
func sendBurst(t *testing.T, in chan<- int, items ...int) time.Duration {
	t.Helper()
	start := time.Now()
	for _, v := range items {
		sendOne(t, in, v)
	}
	return time.Since(start)
}

func TestDebounceEmitsOnceAfterBurst(t *testing.T) {
	leaktest.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const quiet = 100 * time.Millisecond
	in := make(chan int)
	out := operators.Debounce(ctx, in, quiet)

	for round, burst := range [][]int{ints(20), {100, 101, 102}} {
		took := sendBurst(t, in, burst...)
		last := burst[len(burst)-1]
		var got []int
		for len(got) == 0 || got[len(got)-1] != last {
			got = append(got, chantest.RecvOne(t, out))
		}
		// Whatever the scheduling, the items sent are items of the burst, in order, and
		// the last one comes out.
		for i := 1; i < len(got); i++ {
			if got[i] <= got[i-1] {
				t.Fatalf("round %d: got %v, out of order", round, got)
			}
		}
		// If the burst took less than quiet, no gap inside it was quiet long enough: one item.
		if took < quiet && len(got) != 1 {
			t.Fatalf("round %d: burst took %v < %v but got %v, want only %d", round, took, quiet, got, last)
		}
		if took >= quiet {
			t.Logf("round %d: burst took %v (machine loaded); got %v", round, took, got)
		}
	}
	close(in)
	expectClosed(t, out)
}

func TestDebounceFlushesOnClose(t *testing.T) {
	leaktest.Check(t)
	tests := []struct {
		name string
		in   []int
		want []int
	}{
		{"pending item", []int{1, 2, 3}, []int{3}},
		{"single item", []int{7}, []int{7}},
		{"nothing", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// A quiet period no test outlives: only the close can let the item out.
			got := chantest.Collect(t, operators.Debounce(ctx, chantest.Source(ctx, tt.in...), time.Hour))
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDebounceCancelDropsPending(t *testing.T) {
	leaktest.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	in := make(chan int)
	out := operators.Debounce(ctx, in, time.Hour)
	sendOne(t, in, 1)
	cancel()
	expectClosed(t, out)
}

func TestThrottleFirstAtOnceThenTrailingLatest(t *testing.T) {
	leaktest.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := make(chan int)
	// An interval no test outlives: after the first item, only the close lets one out.
	out := operators.Throttle(ctx, in, time.Hour)
	sendOne(t, in, 1)
	if got := chantest.RecvOne(t, out); got != 1 {
		t.Fatalf("got %d, want 1 at once", got)
	}
	sendBurst(t, in, 2, 3, 4)
	close(in)
	if got := chantest.Collect(t, out); !slices.Equal(got, []int{4}) {
		t.Fatalf("after close got %v, want [4] (the latest held item)", got)
	}
}

func TestThrottleEmitsLatestWhenIntervalEnds(t *testing.T) {
	leaktest.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := make(chan int)
	out := operators.Throttle(ctx, in, 20*time.Millisecond)
	sendOne(t, in, 1)
	if got := chantest.RecvOne(t, out); got != 1 {
		t.Fatalf("got %d, want 1", got)
	}
	// 2 and 3 arrive within the interval (the throttle cannot send before 1 was taken and
	// the interval started) unless the machine stalls: then 2 may come out on its own.
	sendBurst(t, in, 2, 3)
	got := chantest.RecvOne(t, out)
	if got == 2 {
		got = chantest.RecvOne(t, out)
	}
	if got != 3 {
		t.Fatalf("got %d, want 3, the latest item of the interval", got)
	}
	// The next item comes out at once if an interval passed with nothing held, or when the
	// running interval ends; either way nothing is left held for the close.
	sendOne(t, in, 4)
	if got := chantest.RecvOne(t, out); got != 4 {
		t.Fatalf("got %d, want 4", got)
	}
	close(in)
	expectClosed(t, out)
}

func TestThrottleBoundsRate(t *testing.T) {
	leaktest.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const every = 20 * time.Millisecond
	const n = 150
	in := make(chan int)
	start := time.Now()
	out := operators.Throttle(ctx, in, every)
	go func() {
		defer close(in)
		for i := 1; i <= n; i++ {
			select {
			case in <- i:
			case <-ctx.Done():
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	got := chantest.Collect(t, out)
	elapsed := time.Since(start)
	// Items sent are at least every apart, except the one flushed at the close: at most
	// elapsed/every + 2, however the goroutines were scheduled.
	limit := int(elapsed/every) + 2
	t.Logf("%d items in %v (limit %d)", len(got), elapsed, limit)
	if len(got) > limit {
		t.Fatalf("got %d items in %v, want at most %d", len(got), elapsed, limit)
	}
	if len(got) < 2 || got[0] != 1 || got[len(got)-1] != n {
		t.Fatalf("got %v, want 1 first and %d (the trailing latest) last", got, n)
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("got %v, out of order", got)
		}
	}
	if len(got) == n {
		t.Fatalf("all %d items passed in %v: nothing was throttled", n, elapsed)
	}
}

// noDelays are durations that mean "no delay" to Debounce and Throttle. None may panic: only a
// nil context or a nil func does.
var noDelays = []time.Duration{0, -time.Nanosecond, -time.Hour, math.MinInt64}

// timeOps are Debounce and Throttle, for tests that hold for both.
var timeOps = []struct {
	name string
	op   func(ctx context.Context, in <-chan int, d time.Duration) <-chan int
}{
	{"Debounce", operators.Debounce[int]},
	{"Throttle", operators.Throttle[int]},
}

// TestNoDelayPassesEverything: with a duration of zero or less, Debounce and Throttle send
// every item, in order, and close when the input closes.
func TestNoDelayPassesEverything(t *testing.T) {
	leaktest.Check(t)
	const n = 1000
	for _, tt := range timeOps {
		for _, d := range noDelays {
			t.Run(fmt.Sprintf("%s/%v", tt.name, d), func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				got := chantest.Collect(t, tt.op(ctx, chantest.Source(ctx, ints(n)...), d))
				if !slices.Equal(got, ints(n)) {
					t.Fatalf("got %d items, want all %d in order", len(got), n)
				}
			})
		}
	}
}

// TestNoDelaySendsEachAtOnce: with a duration of zero or less, each item comes out before the
// next is sent (nothing is held back for a quiet period or an interval), and the output
// closes when ctx ends with the input still open.
func TestNoDelaySendsEachAtOnce(t *testing.T) {
	leaktest.Check(t)
	for _, tt := range timeOps {
		for _, d := range noDelays {
			t.Run(fmt.Sprintf("%s/%v", tt.name, d), func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				in := make(chan int)
				out := tt.op(ctx, in, d)
				for i := range 5 {
					sendOne(t, in, i)
					if got := chantest.RecvOne(t, out); got != i {
						t.Fatalf("got %d, want %d", got, i)
					}
				}
				cancel()
				expectClosed(t, out)
			})
		}
	}
}
