package zkmirror_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/internal/zktest"
)

// zkc is the standalone server the package's tests share.
var zkc *zktest.Cluster

func TestMain(m *testing.M) {
	zktest.Main(m, zktest.Options{}, func(c *zktest.Cluster) {
		zkc = c
		servers = c.Addrs()
	})
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

func newProxy(t testing.TB, target string) *zktest.Proxy {
	t.Helper()
	p, err := zktest.NewProxy(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// deadPort returns a loopback address nothing listens on.
func deadPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func waitState(t testing.TB, states <-chan zkmirror.State, want zkmirror.State) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case st, ok := <-states:
			if !ok {
				t.Fatalf("states closed while waiting for %v", want)
			}
			if st == want {
				return
			}
		case <-deadline:
			t.Fatalf("state %v not reached", want)
		}
	}
}

func srvr(t testing.TB) zktest.Srvr {
	t.Helper()
	s, err := zkc.Servers[0].Srvr()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func serverWatches(t testing.TB) int {
	t.Helper()
	n, err := zkc.Servers[0].WatchCount()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func drainClosed[T any](t testing.TB, ch <-chan T) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("channel not closed")
		}
	}
}

func isClosed[T any](ch <-chan T) bool {
	select {
	case _, ok := <-ch:
		return !ok
	case <-time.After(time.Second):
		return false
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
