package zkmirror_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/internal/zktest"
)

// zkc is the standalone server the package's tests share.
var zkc *zktest.Cluster

func TestMain(m *testing.M) {
	zktest.Main(m, zktest.Options{}, func(c *zktest.Cluster) { zkc = c })
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// rawClient is a plain go-zookeeper client, independent of the mirror, for writing and for
// checking what the server holds.
func rawClient(t testing.TB, addrs ...string) *zk.Conn {
	t.Helper()
	if len(addrs) == 0 {
		addrs = zkc.Addrs()
	}
	conn, events, err := zk.Connect(addrs, 5*time.Second, zk.WithLogger(nopLogger{}), zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	for conn.State() != zk.StateHasSession {
		select {
		case <-events:
		case <-deadline:
			t.Fatal("raw client: no session")
		}
	}
	t.Cleanup(func() {
		conn.Close()
		for range events {
		}
	})
	return conn
}

func connect(t testing.TB, opts ...zkmirror.Option) *zkmirror.Mirror {
	t.Helper()
	return connectTo(t, zkc.Addrs(), opts...)
}

func connectTo(t testing.TB, addrs []string, opts ...zkmirror.Option) *zkmirror.Mirror {
	t.Helper()
	m, err := zkmirror.Connect(addrs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// uniquePath returns a fresh top-level path for a test.
func uniquePath(t testing.TB) string {
	return "/" + t.Name() + "-" + time.Now().Format("150405.000000000")
}

func mustNode(t testing.TB, m *zkmirror.Mirror, p string) *zkmirror.Node {
	t.Helper()
	n, err := m.Node(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// recv receives one item or fails the test.
func recv[T any](t testing.TB, ch <-chan T, d time.Duration) T {
	t.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return v
	case <-time.After(d):
		t.Fatalf("nothing received in %v", d)
	}
	var zero T
	return zero
}
