package session

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkmirror/zkmirror/internal/zktest"
)

// zkc is the standalone server the package's tests share.
var zkc *zktest.Cluster

// TestMain runs the tests against one shared server; zktest.Main ends with
// leaktest.VerifyTestMain, so no goroutine may outlive the tests.
func TestMain(m *testing.M) {
	zktest.Main(m, zktest.Options{}, func(c *zktest.Cluster) { zkc = c })
}

func TestParseServer(t *testing.T) {
	for in, want := range map[string]struct {
		host string
		port int
	}{
		"zk1:2182":          {"zk1", 2182},
		"zk1":               {"zk1", 2181},
		"127.0.0.1":         {"127.0.0.1", 2181},
		"[::1]:2183":        {"::1", 2183},
		"[::1]":             {"::1", 2181},
		"::1":               {"::1", 2181},
		"fe80::1":           {"fe80::1", 2181},
		" 10.0.0.1:2181 ":   {"10.0.0.1", 2181},
		"[2001:db8::7]:999": {"2001:db8::7", 999},
	} {
		h, p, err := ParseServer(in)
		if err != nil || h != want.host || p != want.port {
			t.Errorf("ParseServer(%q) = %q %d %v, want %q %d", in, h, p, err, want.host, want.port)
		}
	}
	for _, bad := range []string{"", "host:", ":2181", "host:0", "host:70000", "host:x", "[::1", "[nothost]:1", "1::2::3:4"} {
		if _, _, err := ParseServer(bad); !errors.Is(err, ErrBadServer) {
			t.Errorf("ParseServer(%q): %v", bad, err)
		}
	}
}

func TestResolve(t *testing.T) {
	got, err := Resolve(context.Background(), []string{"127.0.0.1:1", "127.0.0.1:1", "[::1]:2", "localhost:3"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != "127.0.0.1:1" || got[1] != "[::1]:2" || len(got) < 3 {
		t.Fatalf("%v", got)
	}
	if _, err := Resolve(context.Background(), []string{"127.0.0.1:1", "no-such-host.invalid"}); !errors.Is(err, ErrBadServer) {
		t.Fatalf("one bad name fails the call: %v", err)
	}
	if _, err := Resolve(context.Background(), nil); !errors.Is(err, ErrBadServer) {
		t.Fatal("empty list")
	}
}

func TestStateString(t *testing.T) {
	if StateLost.String() != "Lost" || State(99).String() != "State(99)" || State(-3).String() != "State(-3)" {
		t.Fatal(StateLost.String(), State(99).String())
	}
}

func TestHostProviderBacksOffAndQuits(t *testing.T) {
	quit := make(chan struct{})
	h := &hostProvider{quit: quit, addrs: []string{"a", "b"}}
	seen := map[string]bool{}
	for range 4 {
		addr, retry := h.Next()
		if retry {
			t.Fatal("retryStart before close")
		}
		seen[addr] = true
	}
	if !seen["a"] || !seen["b"] {
		t.Fatal(seen)
	}
	close(quit)
	if _, retry := h.Next(); !retry {
		t.Fatal("after close Next must report retryStart so go-zookeeper sees its quit signal")
	}
}

// recorder keeps every transition a Session reports.
type recorder struct {
	mu sync.Mutex
	ts []Transition
}

func (r *recorder) on(t Transition) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ts = append(r.ts, t)
}

func (r *recorder) all() []Transition {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ts)
}

func states(ts []Transition) []State {
	out := make([]State, len(ts))
	for i, t := range ts {
		out[i] = t.State
	}
	return out
}

func countState(states []State, st State) int {
	n := 0
	for _, s := range states {
		if s == st {
			n++
		}
	}
	return n
}

// TestRefusedCredentialIsNotRetried: the server refuses a credential with an unknown scheme
// and then closes the connection. The Session must report AuthFailed once, never send that
// credential again (no reconnect loop), keep the credentials the server accepts, and carry
// on with the session.
func TestRefusedCredentialIsNotRetried(t *testing.T) {
	p, err := zktest.NewProxy(zkc.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	var rec recorder
	s, err := New(context.Background(), Config{
		Servers:        []string{p.Addr()},
		SessionTimeout: 4 * time.Second,
		Auth: []Auth{
			{Scheme: "nosuchscheme", Auth: []byte("x")},
			{Scheme: "digest", Auth: []byte("reader:secret")},
		},
		OnTransition: rec.on,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Start()

	// Wait for Connected, then give a reconnect loop, if any, time to show itself.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && !slices.Contains(states(rec.all()), StateConnected) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second)

	ts := rec.all()
	got := states(ts)
	if n := p.Accepted(); n > 3 {
		t.Errorf("%d connections accepted: the refused credential makes the session reconnect", n)
	}
	if n := countState(got, StateAuthFailed); n != 1 {
		t.Fatalf("%d AuthFailed transitions among %d, want 1; the first: %v", n, len(got), got[:min(len(got), 8)])
	}
	if want := []State{StateAuthFailed, StateConnected}; !slices.Equal(got, want) {
		t.Fatalf("transitions %v, want %v", got, want)
	}
	if c := ts[1]; !c.NewSession || c.Generation != 1 || c.SessionID == 0 {
		t.Errorf("Connected transition %+v, want the first new session", c)
	}
	if st := s.State(); st != StateConnected {
		t.Errorf("State() = %v, want Connected", st)
	}

	// Reads the world may do still work.
	kids, _, err := s.Conn().Children("/")
	if err != nil || !slices.Contains(kids, "zookeeper") {
		t.Fatalf("Children(/) = %v, %v", kids, err)
	}
	// The credential the server accepted is in effect.
	path := "/refused-credential-test"
	if _, err := s.Conn().Create(path, []byte("v"), 0, zk.DigestACL(zk.PermAll, "reader", "secret")); err != nil {
		t.Fatalf("create: %v", err)
	}
	if data, _, err := s.Conn().Get(path); err != nil || string(data) != "v" {
		t.Errorf("Get(%s) with the accepted digest credential = %q, %v", path, data, err)
	}
	if err := s.Conn().Delete(path, -1); err != nil {
		t.Errorf("delete: %v", err)
	}

	if got := states(rec.all()); !slices.Equal(got, []State{StateAuthFailed, StateConnected}) {
		t.Errorf("transitions after the reads %v", got)
	}
	s.Close()
	if got := states(rec.all()); got[len(got)-1] != StateClosed {
		t.Errorf("last transition %v, want Closed", got[len(got)-1])
	}
}

// stallingConn passes its first write (go-zookeeper's handshake) through and swallows every
// later one, as if the server had stopped answering after the handshake.
type stallingConn struct {
	net.Conn
	writes  atomic.Int64
	once    sync.Once
	stalled chan struct{} // closed at the first swallowed write
}

func (c *stallingConn) Write(b []byte) (int, error) {
	if c.writes.Add(1) == 1 {
		return c.Conn.Write(b)
	}
	c.once.Do(func() { close(c.stalled) })
	return len(b), nil
}

// TestCloseDoesNotWaitForAStalledAuth: Close must not wait for go-zookeeper's read timeout
// (two thirds of the session timeout) while the session is blocked adding a credential on a
// connection whose server stopped answering.
func TestCloseDoesNotWaitForAStalledAuth(t *testing.T) {
	var (
		mu    sync.Mutex
		first *stallingConn
	)
	stalled := make(chan struct{})
	dial := func(network, address string, timeout time.Duration) (net.Conn, error) {
		d := net.Dialer{Timeout: timeout}
		c, err := d.Dial(network, address)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		if first != nil {
			return c, nil
		}
		first = &stallingConn{Conn: c, stalled: stalled}
		return first, nil
	}
	var rec recorder
	s, err := New(context.Background(), Config{
		Servers:        zkc.Addrs(),
		SessionTimeout: 10 * time.Second,
		Auth:           []Auth{{Scheme: "digest", Auth: []byte("u:p")}},
		Dialer:         dial,
		OnTransition:   rec.on,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Start()

	select {
	case <-stalled: // AddAuth was sent into the void; the session waits for its answer
	case <-time.After(5 * time.Second):
		t.Fatal("AddAuth was never sent")
	}
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	s.Close()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %v", d)
	}
	if got := states(rec.all()); !slices.Equal(got, []State{StateClosed}) {
		t.Errorf("transitions %v, want [Closed]", got)
	}
}
