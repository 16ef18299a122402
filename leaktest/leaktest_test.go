package leaktest_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/zkmirror/zkmirror/leaktest"
)

func TestMain(m *testing.M) {
	leaktest.VerifyTestMain(m)
}

// recorder is a testing.TB whose failures and cleanups are captured, so
// that a test can watch Check fail without failing itself. Methods it does
// not override go to the embedded real test.
type recorder struct {
	testing.TB

	mu       sync.Mutex
	errors   []string
	cleanups []func()
}

func (r *recorder) Helper() {}

func (r *recorder) Error(args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprint(args...))
}

func (r *recorder) Errorf(format string, args ...any) {
	r.Error(fmt.Sprintf(format, args...))
}

func (r *recorder) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

// finish runs the registered cleanups, last first, as testing does, and
// returns the failures they reported.
func (r *recorder) finish() []string {
	r.mu.Lock()
	cleanups := r.cleanups
	r.cleanups = nil
	r.mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.errors
}

// blockedOn is the function a leaked goroutine of these tests waits in, so
// that reports can be recognized.
func blockedOn(release <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	<-release
}

func TestCheckReportsLeak(t *testing.T) {
	r := &recorder{TB: t}
	leaktest.Check(r)

	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go blockedOn(release, &wg)

	errs := r.finish()
	close(release)
	wg.Wait()
	if len(errs) != 1 || !strings.Contains(errs[0], "blockedOn") {
		t.Fatalf("Check with a goroutine left running reported %q, want the goroutine", errs)
	}
}

func TestCheckPassesWhenJoined(t *testing.T) {
	r := &recorder{TB: t}
	leaktest.Check(r)

	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go blockedOn(release, &wg)
	// Joined by a cleanup registered after Check: it runs before the check.
	r.Cleanup(func() {
		close(release)
		wg.Wait()
	})

	if errs := r.finish(); len(errs) != 0 {
		t.Fatalf("Check after joining reported %q", errs)
	}
}

func TestCheckIgnoresEarlierGoroutines(t *testing.T) {
	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go blockedOn(release, &wg)
	defer func() {
		close(release)
		wg.Wait()
	}()

	r := &recorder{TB: t}
	leaktest.Check(r)
	if errs := r.finish(); len(errs) != 0 {
		t.Fatalf("Check reported a goroutine started before it: %q", errs)
	}
}

func TestIgnoreCurrent(t *testing.T) {
	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go blockedOn(release, &wg)
	defer func() {
		close(release)
		wg.Wait()
	}()

	if err := goleak.Find(); err == nil || !strings.Contains(err.Error(), "blockedOn") {
		t.Fatalf("goleak.Find without IgnoreCurrent = %v, want the goroutine reported", err)
	}
	if err := goleak.Find(leaktest.IgnoreCurrent()); err != nil {
		t.Fatalf("goleak.Find with IgnoreCurrent: %v", err)
	}
}

// parked blocks until stop closes; its package is leaktest_test.
func parked(started chan<- struct{}, stop <-chan struct{}) {
	close(started)
	<-stop
}

func TestRunning(t *testing.T) {
	const pkg = "github.com/zkmirror/zkmirror/leaktest_test"
	if g := leaktest.Running(pkg); len(g) != 0 {
		t.Fatalf("before: %v", g)
	}
	started, stop, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		parked(started, stop)
	}()
	<-started
	g := leaktest.Running(pkg)
	if len(g) != 1 || !strings.Contains(g[0], "parked") {
		t.Fatalf("running: %q", g)
	}
	// A package whose path only starts like it is not matched, nor is a subpackage.
	if g := leaktest.Running("github.com/zkmirror/zkmirror/leak", "github.com/zkmirror/zkmirror"); len(g) != 0 {
		t.Fatalf("prefix matched: %q", g)
	}
	close(stop)
	<-done
	if g := leaktest.Running(pkg); len(g) != 0 {
		t.Fatalf("after: %q", g)
	}
}
