package session

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkmirror/zkmirror/internal/zktest"
)

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// rawConn is a plain go-zookeeper client for the test's own writes.
func rawConn(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, events, err := zk.Connect([]string{addr}, 5*time.Second, zk.WithLogger(nopLogger{}), zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		for range events {
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for c.State() != zk.StateHasSession {
		if time.Now().After(deadline) {
			t.Fatal("raw client: no session")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return c
}

// deadAddr is a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSetWatchesCarriesTheLastZxid: after a reconnect of the same session the server fires
// exactly the watches whose nodes changed while we were away, which it decides from the
// RelativeZxid the session writes into SetWatches: zero would fire every watch, a zxid newer
// than what we read before the outage could miss the change.
func TestSetWatchesCarriesTheLastZxid(t *testing.T) {
	p, err := zktest.NewProxy(zkc.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	raw := rawConn(t, zkc.Addrs()[0])
	root := "/setwatches-" + time.Now().Format("150405.000000000")
	for _, path := range []string{root, root + "/changed", root + "/same"} {
		if _, err := raw.Create(path, []byte("0"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	var events []zk.Event
	var rec recorder
	s, err := New(context.Background(), Config{
		Servers:        []string{p.Addr()},
		SessionTimeout: 10 * time.Second,
		OnTransition:   rec.on,
		OnNodeEvent: func(ev zk.Event) {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Start()
	connected := func() int { return countState(states(rec.all()), StateConnected) }
	waitFor(t, 20*time.Second, "first session", func() bool { return connected() == 1 })
	for _, path := range []string{root + "/changed", root + "/same"} {
		if _, _, _, err := s.Conn().GetW(path); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, _, err := s.Conn().ChildrenW(root); err != nil {
		t.Fatal(err)
	}

	// The outage: nothing answers while another client changes one node.
	p.SetTarget(deadAddr(t))
	p.Cut()
	waitFor(t, 10*time.Second, "suspended", func() bool { return slices.Contains(states(rec.all()), StateSuspended) })
	if _, err := raw.Set(root+"/changed", []byte("1"), -1); err != nil {
		t.Fatal(err)
	}
	p.SetTarget(zkc.Addrs()[0])
	waitFor(t, 20*time.Second, "reconnect", func() bool { return connected() == 2 })
	waitFor(t, 10*time.Second, "the change's event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(events) > 0
	})
	// A ping interval and more for a wrongly fired watch to show up.
	time.Sleep(time.Second)
	mu.Lock()
	got := slices.Clone(events)
	mu.Unlock()
	if len(got) != 1 || got[0].Type != zk.EventNodeDataChanged || got[0].Path != root+"/changed" {
		t.Fatalf("events after the reconnect: %+v; want one DataChanged for %s/changed", got, root)
	}
	if ts := rec.all(); ts[len(ts)-1].NewSession {
		t.Fatal("the reconnect made a new session")
	}
}

// TestRefusedHandshakeStartsAfresh: the server the session reconnects to has a history
// older than what the session has seen (a server rebuilt from empty data), so it refuses the
// handshake. After refusals for longer than the session timeout the session asks for a new
// session: Expired, then Connected with NewSession, and one Warn line.
func TestRefusedHandshakeStartsAfresh(t *testing.T) {
	fresh, err := zktest.StartStandalone(zktest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	p, err := zktest.NewProxy(zkc.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	// The old history must be ahead of the fresh server's.
	raw := rawConn(t, zkc.Addrs()[0])
	path := "/refused-handshake-" + time.Now().Format("150405.000000000")
	if _, err := raw.Create(path, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if _, err := raw.Set(path, []byte{byte(i)}, -1); err != nil {
			t.Fatal(err)
		}
	}

	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(b []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(b)
	}), &slog.HandlerOptions{Level: slog.LevelWarn}))
	var rec recorder
	const timeout = 2 * time.Second
	s, err := New(context.Background(), Config{
		Servers:        []string{p.Addr()},
		SessionTimeout: timeout,
		Logger:         log,
		OnTransition:   rec.on,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Start()
	waitFor(t, 20*time.Second, "first session", func() bool { return slices.Contains(states(rec.all()), StateConnected) })
	if _, _, err := s.Conn().Get(path); err != nil { // the session has seen the old history's zxid
		t.Fatal(err)
	}
	first := rec.all()[0]

	p.SetTarget(fresh.Addrs()[0])
	cutAt := time.Now()
	p.Cut()
	waitFor(t, 30*time.Second, "a new session on the fresh server", func() bool {
		ts := rec.all()
		return ts[len(ts)-1].State == StateConnected && ts[len(ts)-1].NewSession && ts[len(ts)-1].Generation == 2
	})
	took := time.Since(cutAt)
	got := states(rec.all())
	if i := slices.Index(got, StateExpired); i < 0 || got[len(got)-1] != StateConnected {
		t.Fatalf("transitions %v: want Expired, then Connected", got)
	}
	if took < timeout {
		t.Fatalf("the zxid was forgotten after %v, before the session timeout (%v) of refusals", took, timeout)
	}
	if ts := rec.all(); ts[len(ts)-1].SessionID == first.SessionID {
		t.Fatal("the new session has the old session's id")
	}
	if _, _, err := s.Conn().Exists("/"); err != nil {
		t.Fatalf("the new session does not serve: %v", err)
	}
	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	if n := strings.Count(out, "starting a new session"); n != 1 {
		t.Fatalf("%d Warn lines about starting afresh, want 1:\n%s", n, out)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
