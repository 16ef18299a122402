package zkmirror

import (
	"testing"
)

// A handle can end a subscription before it is added (Node.Close racing Watch): the stream's
// other subscribers must be untouched, and nothing may panic.
func TestUnsubscribeBeforeSubscribe(t *testing.T) {
	ctx := t.Context()
	latest := func(v, _ int) int { return v }

	empty := newStream(latest)
	early := newMailbox[int](nil, nil)
	empty.unsubscribe(early) // used to index subs[-1]
	empty.subscribe(ctx, early)
	if _, ok := <-early.ch; ok {
		t.Fatal("a mailbox ended before subscribing got a value")
	}

	s := newStream(latest)
	a := newMailbox[int](nil, nil)
	s.subscribe(ctx, a)
	b := newMailbox[int](nil, nil)
	s.unsubscribe(b) // used to drop a from the list without closing it
	s.subscribe(ctx, b)
	if len(s.subs) != 1 || s.subs[0].mb != a {
		t.Fatalf("subscribers %v", s.subs)
	}
	s.publish(7)
	if v := <-a.ch; v != 7 {
		t.Fatalf("got %d", v)
	}
	if _, ok := <-b.ch; ok {
		t.Fatal("ended mailbox got a value")
	}
	s.unsubscribe(a)
	if _, ok := <-a.ch; ok || len(s.subs) != 0 {
		t.Fatal("unsubscribe left the mailbox open")
	}
}
