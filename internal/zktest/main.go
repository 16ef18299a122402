package zktest

import (
	"fmt"
	"os"
	"testing"

	"github.com/zkmirror/zkmirror/leaktest"
)

// Main is the body of TestMain for a package whose tests share one
// standalone server:
//
//	var zkc *zktest.Cluster
//
//	func TestMain(m *testing.M) {
//		zktest.Main(m, zktest.Options{}, func(c *zktest.Cluster) { zkc = c })
//	}
//
// It starts the server with opts, calls use(c) so that the package can keep
// the cluster, runs the tests with m.Run, closes the cluster, and, when the
// tests passed, verifies with leaktest.VerifyTestMain that no goroutine is
// left running; then it exits the process. If java or ZooKeeper is
// missing, or the server does not start, it prints the error (for the
// former, an ErrNotInstalled message telling to run `make zk`) and exits
// with status 1 before running any test: the run fails, it is never
// skipped. A failure to close the cluster fails a run that passed.
//
// Tests must not Stop, Kill or Pause the shared server for good; a test
// that does so restarts or resumes it before it returns.
func Main(m *testing.M, opts Options, use func(c *Cluster)) {
	leaktest.VerifyTestMain(sharedRun{m: m, opts: opts, use: use})
}

// sharedRun is the Run of Main: set up, m.Run, tear down, before the leak
// check of leaktest.VerifyTestMain.
type sharedRun struct {
	m    *testing.M
	opts Options
	use  func(c *Cluster)
}

func (r sharedRun) Run() int {
	c, err := StartStandalone(r.opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if r.use != nil {
		r.use(c)
	}
	code := r.m.Run()
	if err := c.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	return code
}
