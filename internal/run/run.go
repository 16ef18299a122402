// Package run holds Group, the one shape every goroutine here has: an owner starts it with
// Go, tells it to end with Stop and waits for it with Wait.
package run

import "sync"

// Group owns goroutines: each one watches Stopping and returns when it closes. Stop is
// idempotent and never blocks; Wait returns once every goroutine started with Go has
// returned. Once Stop has been called Go starts nothing, so a Wait after Stop is final. The
// zero Group is not usable; make one with NewGroup.
type Group struct {
	*group
}

type group struct {
	mu      sync.Mutex // orders Go against Stop
	stopped bool
	c       chan struct{}
	wg      sync.WaitGroup
}

// NewGroup returns a running Group.
func NewGroup() Group {
	return Group{&group{c: make(chan struct{})}}
}

// Go runs f on a new goroutine the Group owns, and reports whether it did: false once Stop
// has been called.
func (g Group) Go(f func()) bool {
	g.mu.Lock()
	if g.stopped {
		g.mu.Unlock()
		return false
	}
	g.wg.Add(1)
	g.mu.Unlock()
	go func() {
		defer g.wg.Done()
		f()
	}()
	return true
}

// Stopping is closed once Stop has been called.
func (g Group) Stopping() <-chan struct{} { return g.c }

// Stop tells the goroutines to end.
func (g Group) Stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.stopped {
		g.stopped = true
		close(g.c)
	}
}

// Wait waits for every goroutine started with Go to return.
func (g Group) Wait() { g.wg.Wait() }

// StopAndWait is Stop, then Wait.
func (g Group) StopAndWait() {
	g.Stop()
	g.Wait()
}
