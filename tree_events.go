package zkmirror

import (
	"context"

	"github.com/zkmirror/zkmirror/internal/inbox"
)

// A Tree's Events readers: a queue per reader that conflates per path, and the goroutine
// that offers it.

// Events returns the Tree's events from now on (see the Tree's guarantees for order and
// conflation). The channel closes when ctx ends, the Tree closes or the Mirror closes.
func (t *Tree) Events(ctx context.Context) <-chan TreeEvent {
	if ctx == nil {
		panic("zkmirror: Tree.Events called with a nil context")
	}
	s := &treeSub{ch: make(chan TreeEvent), wake: inbox.NewSignal(), pend: make(map[string]*pendingEvent)}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		close(s.ch)
		return s.ch
	}
	if !t.grp.Go(func() { t.pump(ctx, s) }) { // the Tree stops only once closed: not reached
		t.mu.Unlock()
		close(s.ch)
		return s.ch
	}
	t.subs[s] = struct{}{}
	t.mu.Unlock()
	return s.ch
}

// treeSub is one Events reader: a queue of pending events, at most one per path. Its
// fields, and its pending events', are guarded by the Tree's mu.
type treeSub struct {
	ch    chan TreeEvent // to the reader; the pump's alone
	wake  inbox.Signal   // a new event is pending
	pend  map[string]*pendingEvent
	order inbox.FIFO[orderRef] // the paths in the order of their first pending event
	seq   uint64
}

// pendingEvent is the merged pending event of one path. While the pump offers it to the
// reader (inflight), later events are also merged separately (after), so that whether the
// offer is taken or abandoned the reader ends at the right state.
type pendingEvent struct {
	ev       TreeEvent
	has      bool // false: the events merged to nothing (Created+Deleted)
	seq      uint64
	inflight bool
	after    TreeEvent
	hasAfter bool
	touched  bool // an event arrived while inflight
}

type orderRef struct {
	key string
	seq uint64
}

func (t *Tree) emitLocked(sp string, ev TreeEvent) {
	for s := range t.subs {
		s.push(sp, ev)
	}
}

// mergeEvents applies the conflation rules: Created+Changed → Created; Changed+Changed →
// Changed; Created+Deleted → nothing; Deleted+Created → Changed; anything+Deleted → Deleted.
func mergeEvents(a TreeEvent, has bool, b TreeEvent) (TreeEvent, bool) {
	if !has || b.Type == EventResynced {
		return b, true
	}
	resync := a.Resync || b.Resync
	switch {
	case a.Type == EventCreated && b.Type == EventDeleted:
		return TreeEvent{}, false
	case a.Type == EventCreated:
		b.Type = EventCreated
	case a.Type == EventDeleted && b.Type == EventCreated:
		b.Type = EventChanged
	}
	b.Resync = resync
	return b, true
}

func (s *treeSub) signal() { s.wake.Poke() }

// push merges ev into the pending event of its path.
func (s *treeSub) push(key string, ev TreeEvent) {
	if ev.Type == EventResynced {
		key = "\x00resynced"
	}
	if p, ok := s.pend[key]; ok {
		p.ev, p.has = mergeEvents(p.ev, p.has, ev)
		if p.inflight {
			p.after, p.hasAfter = mergeEvents(p.after, p.hasAfter, ev)
			p.touched = true
			s.signal() // the pump offers the merged event instead
		}
		return
	}
	s.seq++
	s.pend[key] = &pendingEvent{ev: ev, has: true, seq: s.seq}
	s.order.Push(orderRef{key, s.seq})
	s.signal()
}

// peek returns the oldest pending event and marks it inflight.
func (s *treeSub) peek() (*pendingEvent, string, bool) {
	for {
		ref, ok := s.order.Front()
		if !ok {
			return nil, "", false
		}
		if p, ok := s.pend[ref.key]; ok && p.seq == ref.seq {
			if !p.has {
				delete(s.pend, ref.key)
			} else {
				p.inflight, p.after, p.hasAfter, p.touched = true, TreeEvent{}, false, false
				return p, ref.key, true
			}
		}
		s.order.Pop()
	}
}

// delivered records that the reader took p's offered event: what arrived meanwhile stays
// pending, in the same place.
func (s *treeSub) delivered(key string, p *pendingEvent) {
	p.inflight = false
	if p.touched && p.hasAfter {
		p.ev, p.has = p.after, true
		return
	}
	delete(s.pend, key)
	s.order.Pop()
}

// pump offers one reader its pending events, oldest path first. An event merged with a
// newer one while on offer is withdrawn and the merged event offered instead, so a reader
// that is away gets one event per path.
func (t *Tree) pump(ctx context.Context, s *treeSub) {
	defer close(s.ch)
	defer func() {
		t.mu.Lock()
		delete(t.subs, s)
		t.mu.Unlock()
	}()
	for {
		t.mu.Lock()
		p, key, ok := s.peek()
		var ev TreeEvent
		if ok {
			ev = p.ev
		}
		t.mu.Unlock()
		if !ok {
			select {
			case <-s.wake.C():
				continue
			case <-ctx.Done():
				return
			case <-t.closedCh:
				return
			}
		}
		select {
		case s.ch <- ev:
			t.mu.Lock()
			s.delivered(key, p)
			t.mu.Unlock()
		case <-s.wake.C():
			t.mu.Lock()
			p.inflight = false
			t.mu.Unlock()
		case <-ctx.Done():
			return
		case <-t.closedCh:
			return
		}
	}
}
