package inbox

import "testing"

// Items come out in order, and a long-lived queue does not keep the memory of what it
// popped.
func TestFIFO(t *testing.T) {
	var f FIFO[int]
	if _, ok := f.Pop(); ok {
		t.Fatal("pop from an empty queue")
	}
	next, want := 0, 0
	for round := range 50 {
		for range 1000 + round {
			f.Push(next)
			next++
		}
		for range 990 {
			if v, _ := f.Front(); v != want {
				t.Fatalf("front %d, want %d", v, want)
			}
			v, ok := f.Pop()
			if !ok || v != want {
				t.Fatalf("pop %d %v, want %d", v, ok, want)
			}
			want++
		}
		if f.Len() != next-want {
			t.Fatalf("len %d, want %d", f.Len(), next-want)
		}
		if dead := f.head; dead > 1024 && dead*2 > len(f.items) {
			t.Fatalf("round %d: %d dead items of %d", round, dead, len(f.items))
		}
	}
	for f.Len() > 0 {
		if v, _ := f.Pop(); v != want {
			t.Fatalf("pop %d, want %d", v, want)
		}
		want++
	}
	if want != next || len(f.items) != 0 {
		t.Fatalf("drained at %d of %d, %d items kept", want, next, len(f.items))
	}
}
