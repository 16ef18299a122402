package zktest_test

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkmirror/zkmirror/internal/zktest"
)

// shared is the standalone server the package's tests share. Tests that
// stop or pause it must bring it back before they return.
var shared *zktest.Cluster

func TestMain(m *testing.M) {
	zktest.Main(m, zktest.Options{}, func(c *zktest.Cluster) { shared = c })
}

// sessionTimeout is the session timeout test clients ask for: long enough
// to outlive the outages the tests cause on purpose.
const sessionTimeout = 4 * time.Second

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// connect opens a silent client session to addrs and registers its
// closing: Close, then draining events until the client closes the
// channel, which its last goroutine does on its way out.
func connect(t *testing.T, addrs ...string) (*zk.Conn, <-chan zk.Event) {
	t.Helper()
	conn, events, err := zk.Connect(addrs, sessionTimeout, zk.WithLogger(nopLogger{}), zk.WithLogInfo(false))
	if err != nil {
		t.Fatalf("zk.Connect(%v): %v", addrs, err)
	}
	t.Cleanup(func() {
		conn.Close()
		for range events {
		}
	})
	return conn, events
}

// waitState reads session events until one reports want.
func waitState(t *testing.T, events <-chan zk.Event, want zk.State, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("event channel closed while waiting for %v", want)
			}
			if ev.Type == zk.EventSession && ev.State == want {
				return
			}
		case <-deadline.C:
			t.Fatalf("no %v event within %v", want, timeout)
		}
	}
}

// eventually retries f until it succeeds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %v: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
