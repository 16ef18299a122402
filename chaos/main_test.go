// Package chaos_test injects faults into a real ZooKeeper ensemble while zkmirror Mirrors
// follow it, and checks the mirror's contract afterwards: every mirrored path equals what a
// fresh client reads, no stream ever went back in zxid order, expiries (and only they)
// produce Resync snapshots, Keep nodes come back, and no goroutine is left running.
//
// The shared ensemble serves the focused tests that break only client connections; tests
// that kill, restart or pause servers start their own.
package chaos_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/zkmirror/zkmirror/internal/zktest"
	"github.com/zkmirror/zkmirror/leaktest"
)

// shared is the 3-node ensemble of the tests that do not break servers.
var shared *zktest.Cluster

// ensembleOptions: a 200 ms tick lets sessions as short as 400 ms be negotiated, so that
// expiries take seconds, not tens of seconds.
var ensembleOptions = zktest.Options{
	TickTime:          200 * time.Millisecond,
	MinSessionTimeout: 400 * time.Millisecond,
	MaxSessionTimeout: 60 * time.Second,
	StartTimeout:      60 * time.Second,
}

func TestMain(m *testing.M) {
	leaktest.VerifyTestMain(sharedRun{m})
}

// sharedRun starts the shared ensemble, runs the tests and closes it before the leak check.
type sharedRun struct{ m *testing.M }

func (r sharedRun) Run() int {
	c, err := zktest.StartEnsemble(3, ensembleOptions)
	if err != nil {
		// A missing ZooKeeper is a failure (the error names `make zk`), never a skip.
		fmt.Fprintln(os.Stderr, "chaos: starting the shared ensemble:", err)
		return 1
	}
	shared = c
	code := r.m.Run()
	if err := c.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: closing the shared ensemble:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}
