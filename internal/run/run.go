// Package run holds Group, the one shape every goroutine here has: an owner starts it with
// Go, tells it to end with Stop and waits for it with Wait.
package run

import "sync"

// Group owns goroutines: each one watches Stopping and returns when it closes. Stop is
// idempotent and never blocks; Wait returns once every goroutine started with Go has
// returned. Go after Stop still runs f, which sees Stopping closed. The zero Group is not
// usable; make one with NewGroup.
type Group struct {
	stop *stopOnce
	wg   *sync.WaitGroup
}

type stopOnce struct {
	once sync.Once
	c    chan struct{}
}

// NewGroup returns a running Group.
func NewGroup() Group {
	return Group{stop: &stopOnce{c: make(chan struct{})}, wg: new(sync.WaitGroup)}
}

// Go runs f on a new goroutine the Group owns.
func (g Group) Go(f func()) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		f()
	}()
}

// Stopping is closed once Stop has been called.
func (g Group) Stopping() <-chan struct{} { return g.stop.c }

// Stop tells the goroutines to end.
func (g Group) Stop() { g.stop.once.Do(func() { close(g.stop.c) }) }

// Wait waits for every goroutine started with Go to return.
func (g Group) Wait() { g.wg.Wait() }

// StopAndWait is Stop, then Wait.
func (g Group) StopAndWait() {
	g.Stop()
	g.Wait()
}
