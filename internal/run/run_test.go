package run

import (
	"sync/atomic"
	"testing"
)

// Stop reaches every goroutine, Wait returns once they have all returned, and both are
// idempotent.
func TestGroupStopsAndWaits(t *testing.T) {
	g := NewGroup()
	var ended atomic.Int32
	for range 10 {
		g.Go(func() {
			<-g.Stopping()
			ended.Add(1)
		})
	}
	g.Stop()
	g.Stop()
	g.Wait()
	if n := ended.Load(); n != 10 {
		t.Fatalf("%d of 10 goroutines ended before Wait returned", n)
	}
	// Go after Stop runs f, which sees Stopping closed.
	g.Go(func() { <-g.Stopping(); ended.Add(1) })
	g.StopAndWait()
	if n := ended.Load(); n != 11 {
		t.Fatalf("%d ended", n)
	}
}
