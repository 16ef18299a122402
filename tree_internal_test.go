package zkmirror

import (
	"fmt"
	"slices"
	"testing"

	"github.com/zkmirror/zkmirror/internal/inbox"
)

func drainSub(s *treeSub) []string {
	var out []string
	for {
		p, key, ok := s.peek()
		if !ok {
			return out
		}
		ev := p.ev
		s.delivered(key, p)
		out = append(out, fmt.Sprintf("%s %s %s resync=%v", ev.Type, ev.Path, ev.Value.Data, ev.Resync))
	}
}

// Contract 10's conflation rules for a reader that is away, and the order of first
// occurrence across paths.
func TestTreeEventsConflationRules(t *testing.T) {
	s := &treeSub{wake: inbox.NewSignal(), pend: make(map[string]*pendingEvent)}
	push := func(typ EventType, path, data string, resync bool) {
		s.push(path, TreeEvent{Type: typ, Path: path, Value: Value{Path: path, Data: []byte(data), Exists: typ != EventDeleted}, Resync: resync})
	}
	push(EventCreated, "/a", "a1", false)
	push(EventChanged, "/b", "b1", false)
	push(EventChanged, "/a", "a2", false) // Created+Changed → Created, latest Value
	push(EventCreated, "/c", "c1", false)
	push(EventDeleted, "/c", "", false) // Created+Deleted → nothing
	push(EventDeleted, "/d", "", false)
	push(EventCreated, "/d", "d2", false) // Deleted+Created → Changed, new Value
	push(EventChanged, "/b", "b2", false) // Changed+Changed → Changed
	push(EventChanged, "/e", "e1", true)
	push(EventChanged, "/e", "e2", false) // Resync is kept
	push(EventChanged, "/f", "f1", false)
	push(EventDeleted, "/f", "", false)   // anything+Deleted → Deleted
	push(EventCreated, "/c", "c3", false) // keeps the place of /c's first occurrence
	got := drainSub(s)
	want := []string{
		"Created /a a2 resync=false",
		"Changed /b b2 resync=false",
		"Created /c c3 resync=false",
		"Changed /d d2 resync=false",
		"Changed /e e2 resync=true",
		"Deleted /f  resync=false",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}

	// An event on offer when a newer one of its path arrives: delivered, the newer stays
	// pending in the same place; abandoned, the merge of both is offered.
	push(EventCreated, "/g", "g1", false)
	push(EventChanged, "/h", "h1", false)
	p, key, _ := s.peek()
	push(EventChanged, "/g", "g2", false)
	s.delivered(key, p) // the reader took "Created g1"
	if got, want := drainSub(s), []string{"Changed /g g2 resync=false", "Changed /h h1 resync=false"}; !slices.Equal(got, want) {
		t.Fatalf("after delivery got %q, want %q", got, want)
	}
	push(EventCreated, "/i", "i1", false)
	p, _, _ = s.peek()
	push(EventChanged, "/i", "i2", false)
	p.inflight = false // the reader was away: the offer is withdrawn
	if got, want := drainSub(s), []string{"Created /i i2 resync=false"}; !slices.Equal(got, want) {
		t.Fatalf("after withdrawal got %q, want %q", got, want)
	}
}

// Contract 8: a skipped Resync snapshot leaves its flag on the one that replaces it.
func TestConflatedSnapshotKeepsResync(t *testing.T) {
	s := newStream(Value.conflate)
	ch := s.Subscribe(t.Context())
	s.publish(Value{Data: []byte("1"), Resync: true})
	s.publish(Value{Data: []byte("2")})
	if v := <-ch; string(v.Data) != "2" || !v.Resync {
		t.Fatalf("conflated %q resync=%v", v.Data, v.Resync)
	}
	s.publish(Value{Data: []byte("3")})
	if v := <-ch; string(v.Data) != "3" || v.Resync {
		t.Fatalf("next %q resync=%v", v.Data, v.Resync)
	}
	s.close()
}
