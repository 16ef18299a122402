package chantest_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/zkmirror/zkmirror/internal/chantest"
	"github.com/zkmirror/zkmirror/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

func TestSourceSendsAllThenCloses(t *testing.T) {
	leaktest.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if got := chantest.Collect(t, chantest.Source(ctx, "a", "b", "c")); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("got %v, want [a b c]", got)
	}
	if got := chantest.Collect(t, chantest.Source[int](ctx)); len(got) != 0 {
		t.Fatalf("got %v, want nothing", got)
	}
}

func TestCount(t *testing.T) {
	leaktest.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, n := range []int{-1, 0, 1, 5} {
		got := chantest.Collect(t, chantest.Count(ctx, n))
		var want []int
		for i := 0; i < n; i++ {
			want = append(want, i)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("Count(%d): got %v, want %v", n, got, want)
		}
	}
}

// TestProducersEndWithContext cancels each producer with items left unsent and nobody
// reading: its goroutine must end (leaktest checks it), closing the channel if it closes
// at all.
func TestProducersEndWithContext(t *testing.T) {
	leaktest.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	src := chantest.Source(ctx, 1, 2, 3)
	cnt := chantest.Count(ctx, 1000)
	end := chantest.Endless(ctx)
	for want := range 3 {
		if got := chantest.RecvOne(t, end); got != want {
			t.Fatalf("Endless sent %d, want %d", got, want)
		}
	}
	if got := chantest.RecvOne(t, src); got != 1 {
		t.Fatalf("Source sent %d, want 1", got)
	}
	cancel()
	// After cancel, at most an item already being handed over may come before the close.
	if got := chantest.Collect(t, src); len(got) > 1 {
		t.Fatalf("Source sent %v after cancel", got)
	}
	if got := chantest.Collect(t, cnt); len(got) > 1 {
		t.Fatalf("Count sent %v after cancel", got)
	}
}

// recorder is a testing.TB that records fatal failures instead of ending the test.
type recorder struct {
	testing.TB
	fatals []string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatal(args ...any) { r.fatals = append(r.fatals, fmt.Sprint(args...)) }

func (r *recorder) Fatalf(format string, args ...any) {
	r.fatals = append(r.fatals, fmt.Sprintf(format, args...))
}

func TestRecvOneFailsOnClosedChannel(t *testing.T) {
	leaktest.Check(t)
	ch := make(chan int)
	close(ch)
	r := &recorder{TB: t}
	if got := chantest.RecvOne[int](r, ch); got != 0 {
		t.Fatalf("got %d from a closed channel", got)
	}
	if want := []string{"channel closed, want an item"}; !slices.Equal(r.fatals, want) {
		t.Fatalf("failures %q, want %q", r.fatals, want)
	}
}
