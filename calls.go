package zkmirror

import (
	"context"
	"errors"

	"github.com/zkmirror/zkmirror/internal/engine"
)

// The Mirror's services to its Node handles: waiting for a session, and running a blocking
// call on a goroutine the Mirror owns, so that Close can wait for it.

// waitConnected blocks until a session is established.
func (m *Mirror) waitConnected(ctx context.Context, op, path string) error {
	m.mu.Lock()
	gate, closed := m.connGate, m.isClosed
	m.mu.Unlock()
	if closed {
		return newErr(op, path, ErrClosed, nil)
	}
	select {
	case <-gate:
		return nil
	case <-m.calls.Stopping():
		return newErr(op, path, ErrClosed, nil)
	case <-ctx.Done():
		return timeoutErr(op, path, ctx)
	}
}

// call waits for a session, then runs a blocking go-zookeeper call on a goroutine the Mirror
// owns, so the caller can leave when ctx ends. A request already sent when ctx ends may
// still be applied: the error says the outcome is unknown.
func (m *Mirror) call(ctx context.Context, op, path string, f func() error) error {
	if err := m.waitConnected(ctx, op, path); err != nil {
		return err
	}
	res := make(chan error, 1)
	if !m.track(func() { res <- f() }) {
		return newErr(op, path, ErrClosed, nil)
	}
	select {
	case err := <-res:
		return err
	case <-m.calls.Stopping():
		return newErr(op, path, ErrClosed, nil)
	case <-ctx.Done():
		e := timeoutErr(op, path, ctx)
		e.detail = "the request was sent; its outcome is unknown"
		return e
	}
}

// track runs f on a goroutine the Mirror owns; false if the Mirror is closed.
func (m *Mirror) track(f func()) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.isClosed {
		return false
	}
	return m.calls.Go(f)
}

func (m *Mirror) checkOpen(op, path string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.isClosed {
		return newErr(op, path, ErrClosed, nil)
	}
	return nil
}

// readBackErr maps an error of the engine's read-back of a write (see Engine.ReadBack):
// nil stays nil.
func readBackErr(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, engine.ErrStopped):
		return newErr("read back", "", ErrClosed, nil)
	case err == ctx.Err():
		return timeoutErr("read back", "", ctx)
	}
	return err
}

// userPath maps a server path to the path users see (itself outside the chroot).
func (m *Mirror) userPath(spath string) string {
	if up, ok := m.root.toUser(spath); ok {
		return up
	}
	return spath
}
