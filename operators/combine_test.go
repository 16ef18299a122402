package operators_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/zkmirror/zkmirror/internal/chantest"
	"github.com/zkmirror/zkmirror/leaktest"
	"github.com/zkmirror/zkmirror/operators"
)

// step is one step of a CombineLatest script: send v on input in, close input in, expect
// an output, or expect the output closed.
type step struct {
	send       bool
	close      bool
	in, v      int
	want       []int
	wantClosed bool
}

func sendStep(in, v int) step { return step{send: true, in: in, v: v} }
func closeStep(in int) step   { return step{close: true, in: in} }
func wantStep(vs ...int) step { return step{want: vs} }
func closedStep() step        { return step{wantClosed: true} }

func TestCombineLatest(t *testing.T) {
	leaktest.Check(t)
	tests := []struct {
		name   string
		inputs int
		script []step
	}{
		{
			name:   "waits for every input then emits on each change",
			inputs: 3,
			script: []step{
				// Sends are taken one by one by the operator's goroutine, which blocks on
				// its output: an early output would make the next send hang and fail.
				sendStep(0, 1), sendStep(1, 10), sendStep(0, 2),
				sendStep(2, 100), wantStep(2, 10, 100),
				sendStep(0, 3), wantStep(3, 10, 100),
				sendStep(1, 20), wantStep(3, 20, 100),
				sendStep(1, 20), wantStep(3, 20, 100), // every item counts, equal or not
				closeStep(0), // a closed input keeps its latest value
				sendStep(2, 200), wantStep(3, 20, 200),
				closeStep(2),
				sendStep(1, 30), wantStep(3, 30, 200),
				closeStep(1), closedStep(),
			},
		},
		{
			name:   "input closes before any value",
			inputs: 2,
			script: []step{sendStep(0, 1), closeStep(1), closedStep()},
		},
		{
			name:   "input closes before any value, others open",
			inputs: 3,
			script: []step{closeStep(2), closedStep()},
		},
		{
			name:   "single input",
			inputs: 1,
			script: []step{sendStep(0, 5), wantStep(5), sendStep(0, 6), wantStep(6), closeStep(0), closedStep()},
		},
		{
			name:   "no inputs",
			inputs: 0,
			script: []step{closedStep()},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ins := make([]chan int, tt.inputs)
			ros := make([]<-chan int, tt.inputs)
			for i := range ins {
				ins[i] = make(chan int)
				ros[i] = ins[i]
			}
			out := operators.CombineLatest(ctx, ros...)
			var prev []int
			for i, s := range tt.script {
				switch {
				case s.send:
					sendOne(t, ins[s.in], s.v)
				case s.close:
					close(ins[s.in])
				case s.wantClosed:
					expectClosed(t, out)
				default:
					got := chantest.RecvOne(t, out)
					if !slices.Equal(got, s.want) {
						t.Fatalf("step %d: got %v, want %v", i, got, s.want)
					}
					if prev != nil && &prev[0] == &got[0] {
						t.Fatalf("step %d: the same slice was sent twice", i)
					}
					// The reader owns the slice: scribbling on it changes nothing after.
					for j := range got {
						got[j] = -1
					}
					prev = got
				}
			}
		})
	}
}

func TestCombineLatest2(t *testing.T) {
	leaktest.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := make(chan string)
	b := make(chan int)
	out := operators.CombineLatest2(ctx, a, b, func(s string, n int) string { return fmt.Sprint(s, n) })
	sendOne(t, a, "x")
	sendOne(t, a, "y") // would hang if "x" alone had produced an output
	sendOne(t, b, 1)
	if got := chantest.RecvOne(t, out); got != "y1" {
		t.Fatalf("got %q, want y1", got)
	}
	sendOne(t, b, 2)
	if got := chantest.RecvOne(t, out); got != "y2" {
		t.Fatalf("got %q, want y2", got)
	}
	close(a)
	sendOne(t, b, 3)
	if got := chantest.RecvOne(t, out); got != "y3" {
		t.Fatalf("got %q, want y3", got)
	}
	close(b)
	expectClosed(t, out)

	t.Run("closes when an input ends empty", func(t *testing.T) {
		a := make(chan string)
		b := make(chan int)
		out := operators.CombineLatest2(ctx, a, b, func(s string, n int) string { return s })
		sendOne(t, a, "x")
		close(b)
		expectClosed(t, out)
	})
}

func TestCombineLatest3(t *testing.T) {
	leaktest.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := make(chan int)
	b := make(chan string)
	c := make(chan bool)
	out := operators.CombineLatest3(ctx, a, b, c, func(n int, s string, ok bool) string { return fmt.Sprintf("%d%s %t", n, s, ok) })
	sendOne(t, a, 1)
	sendOne(t, b, "b")
	sendOne(t, a, 2)
	sendOne(t, c, true)
	if got := chantest.RecvOne(t, out); got != "2b true" {
		t.Fatalf("got %q", got)
	}
	sendOne(t, b, "c")
	if got := chantest.RecvOne(t, out); got != "2c true" {
		t.Fatalf("got %q", got)
	}
	close(b)
	close(c)
	sendOne(t, a, 3)
	if got := chantest.RecvOne(t, out); got != "3c true" {
		t.Fatalf("got %q", got)
	}
	close(a)
	expectClosed(t, out)

	t.Run("closes when an input ends empty", func(t *testing.T) {
		a := make(chan int)
		b := make(chan string)
		c := make(chan bool)
		out := operators.CombineLatest3(ctx, a, b, c, func(int, string, bool) int { return 0 })
		sendOne(t, a, 1)
		sendOne(t, b, "b")
		close(c)
		expectClosed(t, out)
	})
}
