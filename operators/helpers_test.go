package operators_test

import (
	"context"
	"reflect"
	"testing"
	"time"
)

// patience bounds how long a test waits for something that should happen promptly. It only
// turns a hang into a failure; no test relies on it for timing.
const patience = 10 * time.Second

// source returns a channel that sends items in order and then closes. Its goroutine also
// ends when ctx ends.
func source[T any](ctx context.Context, items ...T) <-chan T {
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

// ints returns 0, 1, ..., n-1.
func ints(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// collect reads ch until it closes.
func collect[T any](t testing.TB, ch <-chan T) []T {
	t.Helper()
	var got []T
	timeout := time.After(patience)
	for {
		select {
		case v, ok := <-ch:
			if !ok {
				return got
			}
			got = append(got, v)
		case <-timeout:
			t.Fatalf("channel not closed after %v; got so far: %v", patience, got)
		}
	}
}

// recvOne reads one item from ch, failing if ch closes or nothing comes.
func recvOne[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatal("channel closed, want an item")
		}
		return v
	case <-time.After(patience):
		t.Fatalf("no item after %v", patience)
	}
	panic("unreachable")
}

// sendOne sends v on ch, failing if nobody takes it.
func sendOne[T any](t testing.TB, ch chan<- T, v T) {
	t.Helper()
	select {
	case ch <- v:
	case <-time.After(patience):
		t.Fatalf("send of %v not taken after %v", v, patience)
	}
}

// expectClosed fails unless ch closes without sending anything more.
func expectClosed[T any](t testing.TB, ch <-chan T) {
	t.Helper()
	select {
	case v, ok := <-ch:
		if ok {
			t.Fatalf("got %v, want the channel closed", v)
		}
	case <-time.After(patience):
		t.Fatalf("channel not closed after %v", patience)
	}
}

// drainAny reads the channel held in ch (any channel type) until it closes, failing after
// patience.
func drainAny(t testing.TB, ch any) {
	t.Helper()
	cases := []reflect.SelectCase{
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(time.After(patience))},
	}
	for {
		chosen, _, ok := reflect.Select(cases)
		if chosen == 1 {
			t.Fatalf("channel not closed after %v", patience)
		}
		if !ok {
			return
		}
	}
}

// recvAny reads one item from the channel held in ch (any channel type), failing if it
// closes or nothing comes.
func recvAny(t testing.TB, ch any) {
	t.Helper()
	chosen, _, ok := reflect.Select([]reflect.SelectCase{
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(time.After(patience))},
	})
	if chosen == 1 {
		t.Fatalf("no item after %v", patience)
	}
	if !ok {
		t.Fatal("channel closed, want an item")
	}
}
