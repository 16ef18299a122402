package inbox

import (
	"slices"
	"sync"
	"testing"
)

// Pokes coalesce into one wake-up, and a poke with nobody waiting is kept for the waiter.
func TestSignalCoalesces(t *testing.T) {
	s := NewSignal()
	for range 5 {
		s.Poke()
	}
	select {
	case <-s.C():
	default:
		t.Fatal("a poke was lost")
	}
	select {
	case <-s.C():
		t.Fatal("five pokes woke twice")
	default:
	}
}

// Items come out in the order they were put, numbered, whatever the producers and batches.
func TestQueueOrderAndNumbers(t *testing.T) {
	q := NewQueue[int]()
	const producers, each = 4, 1000
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				q.Put(p*each + i)
			}
		}()
	}
	var got []int
	var buf []int
	var next uint64
	take := func() {
		var first uint64
		buf, first = q.TakeSeq(buf)
		if first != next {
			t.Fatalf("batch numbered from %d, want %d", first, next)
		}
		next += uint64(len(buf))
		got = append(got, buf...)
	}
	for len(got) < producers*each/2 {
		<-q.Ready()
		take()
	}
	wg.Wait()
	if q.Puts() != producers*each {
		t.Fatalf("Puts %d", q.Puts())
	}
	take()
	if len(got) != producers*each {
		t.Fatalf("%d items, want %d", len(got), producers*each)
	}
	last := make([]int, producers)
	for i := range last {
		last[i] = -1
	}
	for _, v := range got {
		p := v / each
		if v <= last[p] {
			t.Fatalf("producer %d: %d after %d", p, v, last[p])
		}
		last[p] = v
	}
	if slices.Contains(last, -1) {
		t.Fatal("a producer's items are missing")
	}
	if items := q.Take(nil); len(items) != 0 {
		t.Fatalf("%d items after the last take", len(items))
	}
}
