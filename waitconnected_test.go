package zkmirror_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/leaktest"
)

func TestWaitConnected(t *testing.T) {
	leaktest.Check(t)
	m := connect(t)
	if err := m.WaitConnected(ctxT(t, 20*time.Second)); err != nil {
		t.Fatalf("WaitConnected: %v", err)
	}
	if st := m.State(); st != zkmirror.StateConnected {
		t.Fatalf("WaitConnected returned nil in state %v", st)
	}
	// Connected already: nil at once, even with a context that has ended.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.WaitConnected(ctx); err != nil {
		t.Fatalf("WaitConnected while connected, with an ended ctx: %v", err)
	}
}

func TestWaitConnectedTimeout(t *testing.T) {
	leaktest.Check(t)
	m := connectTo(t, []string{deadPort(t)})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := m.WaitConnected(ctx)
	if !errors.Is(err, zkmirror.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("no server, deadline: %v, want ErrTimeout and context.DeadlineExceeded", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if err := m.WaitConnected(ctx); !errors.Is(err, zkmirror.ErrTimeout) || !errors.Is(err, context.Canceled) {
		t.Fatalf("no server, cancelled: %v, want ErrTimeout and context.Canceled", err)
	}

	// A cause given to the context is kept, and ctx.Err() still matches.
	cause := errors.New("gave up")
	ctx, cancel = context.WithTimeoutCause(context.Background(), 100*time.Millisecond, cause)
	defer cancel()
	if err := m.WaitConnected(ctx); !errors.Is(err, zkmirror.ErrTimeout) || !errors.Is(err, ctx.Err()) || !errors.Is(err, cause) {
		t.Fatalf("no server, deadline with a cause: %v, want ErrTimeout, %v and the cause", err, ctx.Err())
	}
}

func TestWaitConnectedClose(t *testing.T) {
	leaktest.Check(t)
	m := connectTo(t, []string{deadPort(t)})
	res := make(chan error, 1)
	go func() { res <- m.WaitConnected(context.Background()) }()
	// Close while the call waits (or before it starts: both are ErrClosed).
	m.Close()
	select {
	case err := <-res:
		if !errors.Is(err, zkmirror.ErrClosed) {
			t.Fatalf("Close during WaitConnected: %v, want ErrClosed", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("WaitConnected did not return after Close")
	}

	// After Close, on a Mirror that had been connected.
	m = connect(t)
	if err := m.WaitConnected(ctxT(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	m.Close()
	if err := m.WaitConnected(ctxT(t, time.Second)); !errors.Is(err, zkmirror.ErrClosed) {
		t.Fatalf("WaitConnected after Close: %v, want ErrClosed", err)
	}
}

// TestWaitConnectedAuthFailed: the server refuses a credential of an unknown scheme. The
// wait ends with ErrAuthFailed; the session carries on without that credential, and later
// calls, once the Mirror is Connected, still say it was refused.
func TestWaitConnectedAuthFailed(t *testing.T) {
	leaktest.Check(t)
	p := uniquePath(t)
	raw := rawClient(t)
	if _, err := raw.Create(p, []byte("open"), 0, worldACL); err != nil {
		t.Fatal(err)
	}
	m := connect(t, zkmirror.WithAuth("nosuchscheme", []byte("x")))
	states := m.States(ctxT(t, time.Minute))
	err := m.WaitConnected(ctxT(t, 20*time.Second))
	if !errors.Is(err, zkmirror.ErrAuthFailed) {
		t.Fatalf("WaitConnected with a refused credential: %v, want ErrAuthFailed", err)
	}
	waitState(t, states, zkmirror.StateConnected)
	if err := m.WaitConnected(ctxT(t, 20*time.Second)); !errors.Is(err, zkmirror.ErrAuthFailed) {
		t.Fatalf("WaitConnected once Connected after the refusal: %v, want ErrAuthFailed", err)
	}
	// The session goes on with the world's access.
	v, err := mustNode(t, m, p).Value(ctxT(t, 20*time.Second))
	if err != nil || string(v.Data) != "open" {
		t.Fatalf("Value after the refusal: %+v, %v", v, err)
	}
	m.Close()
	if err := m.WaitConnected(ctxT(t, time.Second)); !errors.Is(err, zkmirror.ErrClosed) {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
}
