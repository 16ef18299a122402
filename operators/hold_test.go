package operators_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/internal/chantest"
	"github.com/zkmirror/zkmirror/leaktest"
	"github.com/zkmirror/zkmirror/operators"
)

func TestHold(t *testing.T) {
	leaktest.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wctx, wcancel := context.WithTimeout(ctx, chantest.Patience)
	defer wcancel()

	in := make(chan int)
	s := operators.Hold(ctx, in)
	if _, ok := s.Latest(); ok {
		t.Fatal("Latest has a value before any item")
	}
	sub := s.Subscribe(ctx)
	waited := make(chan int, 1)
	go func() {
		v, err := s.Wait(wctx)
		if err != nil {
			t.Error(err)
		}
		waited <- v
	}()
	sendOne(t, in, 7)
	if v := <-waited; v != 7 {
		t.Fatalf("Wait = %d, want 7", v)
	}
	if v, ok := s.Latest(); !ok || v != 7 {
		t.Fatalf("Latest = %d, %v; want 7, true", v, ok)
	}
	if v := chantest.RecvOne(t, sub); v != 7 {
		t.Fatalf("subscription got %d, want 7", v)
	}
	sendOne(t, in, 8)
	sendOne(t, in, 9)
	close(in)
	// The subscription conflates: it may skip 8, but ends with 9 and then closes.
	got := chantest.Collect(t, sub)
	if len(got) == 0 || got[len(got)-1] != 9 {
		t.Fatalf("subscription got %v, want it to end with 9", got)
	}
	if v, ok := s.Latest(); !ok || v != 9 {
		t.Fatalf("Latest after close = %d, %v; want 9, true", v, ok)
	}
	if v, err := s.Wait(wctx); err != nil || v != 9 {
		t.Fatalf("Wait after close = %d, %v; want 9, nil", v, err)
	}
	expectClosed(t, s.Subscribe(ctx))
}

func TestHoldClosesOnCancel(t *testing.T) {
	leaktest.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	s := operators.Hold(ctx, make(chan string))
	cancel()
	wctx, wcancel := context.WithTimeout(context.Background(), chantest.Patience)
	defer wcancel()
	_, err := s.Wait(wctx)
	if !errors.Is(err, zkmirror.ErrClosed) {
		t.Fatalf("Wait = %v, want ErrClosed", err)
	}
}

func TestHoldEmptyInput(t *testing.T) {
	leaktest.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := operators.Hold(ctx, chantest.Source[time.Duration](ctx))
	expectClosed(t, s.Subscribe(ctx))
	if _, ok := s.Latest(); ok {
		t.Fatal("Latest has a value")
	}
}
