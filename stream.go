package zkmirror

import (
	"context"
	"sync"
	"sync/atomic"
)

// Stream holds the latest value of a sequence of snapshots and hands it to any number of
// subscribers.
//
// Guarantees:
//   - Latest never blocks. Wait blocks until a first value exists, the Stream closes
//     (ErrClosed) or its ctx ends (ErrTimeout).
//   - Subscribe returns a channel that first receives the latest value, if there is one, then
//     every later value, in order, conflated: each subscriber has a one-slot mailbox, and a
//     value that finds the slot full replaces the unread one. A slow reader therefore skips
//     intermediate values and gets the latest, never a backlog, and it never blocks the
//     producer or any other reader. A subscription costs no goroutine.
//   - For snapshot streams (Value, Children) a replaced snapshot hands on its Resync flag, so
//     a reader that skipped a resync snapshot still sees Resync on the one it gets.
//   - The channel is closed exactly once: when the subscription's ctx ends, when the Stream
//     closes, or when the handle that made the subscription closes.
//
// The zero Stream is not usable; streams come from the mirror, from NewStream and from
// operators.Hold.
type Stream[T any] struct {
	merge     func(newer, older T) T // how a value replaces an unread one; nil: newer wins
	conflated *atomic.Int64          // counts replaced unread values; may be nil

	mu     sync.Mutex // guards the fields below
	latest T
	has    bool
	closed bool
	first  chan struct{} // closed at the first value or at close
	// subs are the subscriptions, with what a publish needs of each inline, so that it
	// walks one array; each mailbox knows its index, for O(1) removal.
	subs []subSlot[T]
}

type subSlot[T any] struct {
	ch     chan T
	notify func()
	mb     *mailbox[T]
}

// mailbox is one subscriber's one-slot channel.
type mailbox[T any] struct {
	ch     chan T
	notify func()      // called after each delivery (watcher dispatch); may be nil
	stop   func() bool // stops the context.AfterFunc
	idx    int         // position in the stream's subs; -1 while not in them
	onEnd  func()      // called once, outside the lock, when the subscription ends
	ended  bool
}

func newStream[T any](merge func(newer, older T) T) *Stream[T] {
	return &Stream[T]{merge: merge, first: make(chan struct{})}
}

// NewStream returns an empty Stream and the Publisher that feeds it. Values published replace
// one another as the Stream's guarantees describe.
func NewStream[T any]() (*Stream[T], *Publisher[T]) {
	s := newStream[T](nil)
	return s, &Publisher[T]{s: s}
}

// Publisher is the producing side of a Stream made by NewStream. Its methods are safe for
// concurrent use, but values published concurrently have no defined order.
type Publisher[T any] struct{ s *Stream[T] }

// Publish makes v the latest value and offers it to every subscriber. It never blocks on a
// reader. Publishing after Close does nothing.
func (p *Publisher[T]) Publish(v T) { p.s.publish(v) }

// Close closes the Stream: every subscription channel closes, Wait without a value returns
// ErrClosed, Latest keeps answering. Idempotent.
func (p *Publisher[T]) Close() { p.s.close() }

// Latest returns the latest value and whether there is one. It never blocks.
func (s *Stream[T]) Latest() (T, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latest, s.has
}

// Wait returns the latest value, waiting until there is one. It returns ErrClosed if the
// Stream closes first and ErrTimeout (which also matches ctx's error) if ctx ends first.
func (s *Stream[T]) Wait(ctx context.Context) (T, error) {
	if ctx == nil {
		panic("zkmirror: Stream.Wait called with a nil context")
	}
	s.mu.Lock()
	v, has, closed, first := s.latest, s.has, s.closed, s.first
	s.mu.Unlock()
	if has {
		return v, nil
	}
	if closed {
		return v, newErr("wait", "", ErrClosed, nil)
	}
	select {
	case <-first:
		s.mu.Lock()
		v, has = s.latest, s.has
		s.mu.Unlock()
		if has {
			return v, nil
		}
		return v, newErr("wait", "", ErrClosed, nil)
	case <-ctx.Done():
		return v, timeoutErr("wait", "", ctx)
	}
}

// Subscribe returns a conflating channel: the latest value first (if any), then changes. It
// closes when ctx ends or the Stream closes.
func (s *Stream[T]) Subscribe(ctx context.Context) <-chan T {
	if ctx == nil {
		panic("zkmirror: Stream.Subscribe called with a nil context")
	}
	mb := newMailbox[T](nil, nil)
	s.subscribe(ctx, mb)
	return mb.ch
}

// newMailbox makes a subscription mailbox. notify, if set, runs (under the stream's lock: it
// must only hand off) after each delivery; onEnd runs once when the subscription ends,
// outside the lock.
func newMailbox[T any](notify, onEnd func()) *mailbox[T] {
	return &mailbox[T]{ch: make(chan T, 1), idx: -1, notify: notify, onEnd: onEnd}
}

// subscribe adds a mailbox; it ends when ctx ends, when unsubscribed or when the Stream
// closes.
func (s *Stream[T]) subscribe(ctx context.Context, mb *mailbox[T]) {
	s.mu.Lock()
	if mb.ended { // unsubscribed before it was subscribed: its handle closed meanwhile
		s.mu.Unlock()
		return
	}
	if s.closed {
		mb.ended = true
		close(mb.ch)
		s.mu.Unlock()
		if mb.onEnd != nil {
			mb.onEnd()
		}
		return
	}
	mb.idx = len(s.subs)
	s.subs = append(s.subs, subSlot[T]{mb.ch, mb.notify, mb})
	if s.has {
		mb.ch <- s.latest
		if mb.notify != nil {
			mb.notify()
		}
	}
	// AfterFunc runs f in its own goroutine, so registering under the lock cannot deadlock
	// even when ctx is already done.
	mb.stop = context.AfterFunc(ctx, func() { s.unsubscribe(mb) })
	s.mu.Unlock()
}

// unsubscribe ends one subscription: its channel closes. Idempotent.
func (s *Stream[T]) unsubscribe(mb *mailbox[T]) {
	s.mu.Lock()
	if mb.ended {
		s.mu.Unlock()
		return
	}
	mb.ended = true
	// A handle may end a subscription before subscribe has added it.
	if mb.idx >= 0 {
		last := len(s.subs) - 1
		s.subs[mb.idx] = s.subs[last]
		s.subs[mb.idx].mb.idx = mb.idx
		s.subs[last] = subSlot[T]{}
		s.subs = s.subs[:last]
		mb.idx = -1
	}
	close(mb.ch)
	if mb.stop != nil {
		mb.stop()
	}
	s.mu.Unlock()
	if mb.onEnd != nil {
		mb.onEnd()
	}
}

func (s *Stream[T]) publish(v T) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.latest, s.has = v, true
	select {
	case <-s.first:
	default:
		close(s.first)
	}
	var replaced int64
	for i := range s.subs {
		if put(s.subs[i].ch, s.subs[i].notify, v, s.merge) {
			replaced++
		}
	}
	if replaced > 0 && s.conflated != nil {
		s.conflated.Add(replaced)
	}
	s.mu.Unlock()
}

// put delivers v to a subscription's channel, replacing an unread value, and reports
// whether it did. Only the stream's lock holder sends, so after the slot is emptied the
// send cannot block.
func put[T any](ch chan T, notify func(), v T, merge func(newer, older T) T) (replaced bool) {
	select {
	case ch <- v:
	default:
		select {
		case old := <-ch:
			replaced = true
			if merge != nil {
				v = merge(v, old)
			}
		default: // the reader took it meanwhile
		}
		ch <- v
	}
	if notify != nil {
		notify()
	}
	return replaced
}

// close ends every subscription; Latest keeps answering. Idempotent.
func (s *Stream[T]) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	select {
	case <-s.first:
	default:
		close(s.first)
	}
	subs := s.subs
	s.subs = nil
	var ends []func()
	for _, sl := range subs {
		mb := sl.mb
		mb.ended = true
		close(mb.ch)
		if mb.stop != nil {
			mb.stop()
		}
		if mb.onEnd != nil {
			ends = append(ends, mb.onEnd)
		}
	}
	s.mu.Unlock()
	for _, f := range ends {
		f()
	}
}
