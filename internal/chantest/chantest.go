// Package chantest holds the channel helpers that the tests of several packages share:
// producers that feed a channel and stop when their context ends, and readers that turn a
// hang into a test failure.
//
// Every producer runs one goroutine, which ends when it has sent everything or when its
// context ends, whichever comes first; a test cancels the context to release it. Every
// reader waits at most Patience.
package chantest

import (
	"context"
	"testing"
	"time"
)

// Patience bounds how long a test waits for something that should happen promptly. It only
// turns a hang into a failure; no test may rely on it for timing.
const Patience = 10 * time.Second

// Source returns a channel that sends items in order and then closes. Its goroutine also
// ends, closing the channel, when ctx ends.
func Source[T any](ctx context.Context, items ...T) <-chan T {
	ch := make(chan T)
	go func() {
		defer close(ch)
		for _, v := range items {
			select {
			case ch <- v:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// Count returns a channel that sends 0, 1, ..., n-1 and then closes; nothing if n <= 0. Its
// goroutine also ends, closing the channel, when ctx ends. Unlike Source it allocates
// nothing per item, which suits benchmarks.
func Count(ctx context.Context, n int) <-chan int {
	ch := make(chan int)
	go func() {
		defer close(ch)
		for i := 0; i < n; i++ {
			select {
			case ch <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// Endless returns a channel that sends 0, 1, 2, ... until ctx ends. It never closes: it
// stands for an input that does not end by itself. Its goroutine ends only when ctx ends.
func Endless(ctx context.Context) <-chan int {
	ch := make(chan int)
	go func() {
		for i := 0; ; i++ {
			select {
			case ch <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// Collect reads ch until it closes and returns the items read, in order. It fails t (with
// Fatalf, so it must be called from the test's goroutine) if ch has not closed after Patience.
func Collect[T any](t testing.TB, ch <-chan T) []T {
	t.Helper()
	var got []T
	timeout := time.NewTimer(Patience)
	defer timeout.Stop()
	for {
		select {
		case v, ok := <-ch:
			if !ok {
				return got
			}
			got = append(got, v)
		case <-timeout.C:
			t.Fatalf("channel not closed after %v; got so far: %v", Patience, got)
		}
	}
}

// RecvOne reads one item from ch and returns it. It fails t (with Fatal, so it must be called
// from the test's goroutine) if ch closes or nothing comes within Patience.
func RecvOne[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	timeout := time.NewTimer(Patience)
	defer timeout.Stop()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatal("channel closed, want an item")
		}
		return v
	case <-timeout.C:
		t.Fatalf("no item after %v", Patience)
	}
	panic("unreachable: Fatal stops the test's goroutine")
}
