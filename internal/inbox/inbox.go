// Package inbox holds the two ways a goroutine here is woken: a Signal (a one-slot wake-up
// that coalesces) and a Queue (items handed over in O(1) from a goroutine that must not
// wait, taken in batches by the one goroutine that owns the queue).
package inbox

import "sync"

// Signal wakes one waiting goroutine. Pokes coalesce: however many come while the waiter
// is busy, it wakes once more. The zero Signal is not usable; make one with NewSignal.
type Signal struct {
	c chan struct{}
}

// NewSignal returns a Signal with no poke pending.
func NewSignal() Signal { return Signal{c: make(chan struct{}, 1)} }

// Poke wakes the waiter, or leaves a poke pending for it. It never blocks.
func (s Signal) Poke() {
	select {
	case s.c <- struct{}{}:
	default:
	}
}

// C is the channel the waiter selects on; a receive consumes the pending poke.
func (s Signal) C() <-chan struct{} { return s.c }

// Queue is an unbounded FIFO with one consumer: Put never blocks, and Take hands the
// consumer everything put so far, in order. Its size is bounded by what its producers put
// between two takes; see each use for why that is bounded.
type Queue[T any] struct {
	*queue[T]
}

type queue[T any] struct {
	mu    sync.Mutex
	items []T    // guarded by mu
	taken uint64 // items taken so far; guarded by mu
	sig   Signal
}

// NewQueue returns an empty Queue.
func NewQueue[T any]() Queue[T] {
	return Queue[T]{&queue[T]{sig: NewSignal()}}
}

// Put appends v and wakes the consumer.
func (q Queue[T]) Put(v T) {
	q.mu.Lock()
	q.items = append(q.items, v)
	q.mu.Unlock()
	q.sig.Poke()
}

// Ready is the channel the consumer selects on: it has a value after a Put.
func (q Queue[T]) Ready() <-chan struct{} { return q.sig.C() }

// Take returns everything put since the last Take, oldest first, and keeps buf (emptied)
// for the next items: pass back the slice the last Take returned to reuse it.
func (q Queue[T]) Take(buf []T) []T {
	items, _ := q.TakeSeq(buf)
	return items
}

// TakeSeq is Take, and also returns the sequence number of the first item taken: items are
// numbered from 0 in the order they were put.
func (q Queue[T]) TakeSeq(buf []T) (items []T, first uint64) {
	clear(buf)
	q.mu.Lock()
	items, first = q.items, q.taken
	q.items = buf[:0]
	q.taken += uint64(len(items))
	q.mu.Unlock()
	return items, first
}

// Puts returns how many items have been put so far: the sequence number the next one gets.
func (q Queue[T]) Puts() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.taken + uint64(len(q.items))
}

// Len returns how many items are queued, not yet taken.
func (q Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}
