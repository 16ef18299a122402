// Package progtest holds what the tests of the programs (cmd/zkmirror and the examples)
// share: an output buffer that tests read line by line while a program writes to it, a plain
// go-zookeeper client for writing behind the programs' backs, and a way to run a program
// until the test stops it.
package progtest

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// Output is an io.Writer safe for concurrent use that a test reads line by line, in order.
type Output struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	cursor int // lines before it were consumed by Expect
	wake   chan struct{}
}

// Write appends p.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, err := o.buf.Write(p)
	if o.wake != nil {
		close(o.wake)
		o.wake = nil
	}
	return n, err
}

// String returns everything written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// Lines returns the complete lines written so far.
func (o *Output) Lines() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return completeLines(o.buf.String())
}

func completeLines(s string) []string {
	i := strings.LastIndexByte(s, '\n')
	if i < 0 {
		return nil
	}
	return strings.Split(s[:i], "\n")
}

// Expect waits until a line containing want is written after the lines consumed by earlier
// calls, consumes the lines up to and including it and returns it. It fails t, quoting the
// whole output, if no such line comes within timeout.
func (o *Output) Expect(t testing.TB, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		o.mu.Lock()
		lines := completeLines(o.buf.String())
		for i := o.cursor; i < len(lines); i++ {
			if strings.Contains(lines[i], want) {
				o.cursor = i + 1
				o.mu.Unlock()
				return lines[i]
			}
		}
		if o.wake == nil {
			o.wake = make(chan struct{})
		}
		wake := o.wake
		o.mu.Unlock()
		select {
		case <-wake:
		case <-deadline.C:
			t.Fatalf("no line containing %q within %v; output:\n%s", want, timeout, o.String())
		}
	}
}

// Start runs f in a goroutine with a context the returned stop function cancels; stop then
// waits for f to return and returns its result (an error, or an exit code), the same on
// every call. Stop is also registered with t.Cleanup, so f never outlives the test.
func Start[R any](t testing.TB, f func(ctx context.Context) R) (stop func() R) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan R, 1)
	go func() { done <- f(ctx) }()
	var once sync.Once
	var result R
	stop = func() R {
		once.Do(func() {
			cancel()
			select {
			case result = <-done:
			case <-time.After(30 * time.Second):
				t.Errorf("the program did not return within 30s of being stopped")
				result = <-done
			}
		})
		return result
	}
	t.Cleanup(func() { stop() })
	return stop
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// RawClient returns a plain go-zookeeper client connected to addrs, with a session, closed
// (and its goroutines ended) when the test ends.
func RawClient(t testing.TB, addrs []string) *zk.Conn {
	t.Helper()
	conn, events, err := zk.Connect(addrs, 5*time.Second, zk.WithLogger(nopLogger{}), zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		for range events { // closes once every goroutine of conn has ended
		}
	})
	deadline := time.After(20 * time.Second)
	for conn.State() != zk.StateHasSession {
		select {
		case <-events:
		case <-deadline:
			t.Fatal("raw client: no session within 20s")
		}
	}
	return conn
}

// CreateAll creates path and any missing parent, all persistent, with data on path itself;
// a node that exists already is left as it is.
func CreateAll(t testing.TB, conn *zk.Conn, path string, data []byte) {
	t.Helper()
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := range parts {
		p := "/" + strings.Join(parts[:i+1], "/")
		var d []byte
		if i == len(parts)-1 {
			d = data
		}
		if _, err := conn.Create(p, d, 0, zk.WorldACL(zk.PermAll)); err != nil && err != zk.ErrNodeExists {
			t.Fatalf("create %s: %v", p, err)
		}
	}
}

// UniquePath returns a fresh top-level path for the test.
func UniquePath(t testing.TB) string {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	return "/" + name + "-" + time.Now().Format("150405.000000000")
}
