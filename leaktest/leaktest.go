// Package leaktest checks that tests leave no goroutines running, using
// go.uber.org/goleak. A package checks its whole run with VerifyTestMain,
// and a test checks itself with Check.
//
// No goroutine is ignored by default: code of this project, including its
// use of third-party clients, must join every goroutine it starts before
// the function that releases it (Close, Stop, ...) returns.
package leaktest

import (
	"runtime"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// VerifyTestMain runs m's tests and, if they all passed, fails the run when
// goroutines other than the runtime's and the testing package's are still
// running (after goleak's retries, which give exiting goroutines time to
// finish); then it exits the process with the run's code. Use it as the
// whole body of TestMain:
//
//	func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }
//
// m is usually a *testing.M; any Run() int will do, which lets a TestMain
// wrap m.Run with setup and teardown that must happen before the check
// (zktest.Main does so). opts are goleak options; each ignore passed must be
// justified where it is passed.
func VerifyTestMain(m goleak.TestingM, opts ...goleak.Option) {
	goleak.VerifyTestMain(m, opts...)
}

// Check fails t if goroutines started during the test are still running
// when it ends. It records the goroutines running when it is called, which
// are never reported, and registers with t.Cleanup the verification of the
// others. Call it first in the test:
//
//	func TestX(t *testing.T) {
//		leaktest.Check(t)
//		...
//	}
//
// so that, cleanups running last-registered first, the check runs after the
// test's deferred calls and after every cleanup registered later (closing
// clients, servers, proxies). Check cannot tell a parallel test's
// goroutines from the calling test's: do not use it in tests that run in
// parallel with others (t.Parallel), nor in their parents while they run.
// opts are goleak options added to the snapshot ignore.
func Check(t testing.TB, opts ...goleak.Option) {
	t.Helper()
	opts = append([]goleak.Option{goleak.IgnoreCurrent()}, opts...)
	t.Cleanup(func() {
		goleak.VerifyNone(t, opts...)
	})
}

// IgnoreCurrent returns an option ignoring the goroutines running when it is
// called, for VerifyTestMain when a package deliberately keeps goroutines
// alive for its whole run (start them first, then take the snapshot).
func IgnoreCurrent() goleak.Option {
	return goleak.IgnoreCurrent()
}

// Running returns, at once and without retrying, the stacks of the goroutines that are
// executing a function of one of the packages named (import paths), or were started by one;
// the caller's goroutine and those running tests are left out.
// It proves that a Close has joined its goroutines when it returns, which goleak's retries,
// giving exiting goroutines time, cannot.
func Running(pkgs ...string) []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 || strings.Contains(g, "\ntesting.tRunner(") || strings.Contains(g, "\nmain.main()") {
			continue // the caller's, and those running tests
		}
		for _, line := range strings.Split(g, "\n") {
			if inPackage(line, pkgs) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// inPackage reports whether a stack line is a call of a function of one of pkgs: the
// import path followed by a dot (a function or method) and not by a slash (a subpackage).
func inPackage(line string, pkgs []string) bool {
	for _, p := range pkgs {
		if strings.HasPrefix(line, p+".") || strings.HasPrefix(line, "created by "+p+".") {
			return true
		}
	}
	return false
}
