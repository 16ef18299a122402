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
	// Go after Stop starts nothing.
	if g.Go(func() { ended.Add(1) }) {
		t.Fatal("Go started a goroutine after Stop")
	}
	g.StopAndWait()
	if n := ended.Load(); n != 10 {
		t.Fatalf("%d ended", n)
	}
}
