package inbox

// FIFO is a first-in first-out queue for one owner, who guards it with its own lock. It
// gives back the memory of the items it has popped: at most half of its backing array is
// ever dead.
type FIFO[T any] struct {
	items []T
	head  int
}

// Push appends v.
func (f *FIFO[T]) Push(v T) { f.items = append(f.items, v) }

// Len returns the number of items queued.
func (f *FIFO[T]) Len() int { return len(f.items) - f.head }

// Front returns the oldest item; false if the queue is empty.
func (f *FIFO[T]) Front() (T, bool) {
	if f.head == len(f.items) {
		var zero T
		return zero, false
	}
	return f.items[f.head], true
}

// Pop removes and returns the oldest item; false if the queue is empty.
func (f *FIFO[T]) Pop() (T, bool) {
	v, ok := f.Front()
	if !ok {
		return v, false
	}
	var zero T
	f.items[f.head] = zero
	f.head++
	switch {
	case f.head == len(f.items) && cap(f.items) > 1024:
		f.items, f.head = nil, 0 // empty after a burst: give its memory back
	case f.head == len(f.items):
		f.items, f.head = f.items[:0], 0
	case f.head > 1024 && f.head*2 > len(f.items):
		f.items, f.head = append(f.items[:0:0], f.items[f.head:]...), 0
	}
	return v, true
}
