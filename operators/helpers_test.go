package operators_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/zkmirror/zkmirror/internal/chantest"
)

// The helpers this package shares with operators/rx are in internal/chantest; these are
// its own.

// ints returns 0, 1, ..., n-1.
func ints(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// sendOne sends v on ch, failing if nobody takes it.
func sendOne[T any](t testing.TB, ch chan<- T, v T) {
	t.Helper()
	select {
	case ch <- v:
	case <-time.After(chantest.Patience):
		t.Fatalf("send of %v not taken after %v", v, chantest.Patience)
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
	case <-time.After(chantest.Patience):
		t.Fatalf("channel not closed after %v", chantest.Patience)
	}
}

// drainAny reads the channel held in ch (any channel type) until it closes, failing after
// chantest.Patience.
func drainAny(t testing.TB, ch any) {
	t.Helper()
	cases := []reflect.SelectCase{
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(time.After(chantest.Patience))},
	}
	for {
		chosen, _, ok := reflect.Select(cases)
		if chosen == 1 {
			t.Fatalf("channel not closed after %v", chantest.Patience)
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
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(time.After(chantest.Patience))},
	})
	if chosen == 1 {
		t.Fatalf("no item after %v", chantest.Patience)
	}
	if !ok {
		t.Fatal("channel closed, want an item")
	}
}
