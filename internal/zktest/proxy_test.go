package zktest_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkmirror/zkmirror/internal/zktest"
	"github.com/zkmirror/zkmirror/leaktest"
)

// newProxy returns a proxy to target that is closed when the test ends.
func newProxy(t *testing.T, target string) *zktest.Proxy {
	t.Helper()
	p, err := zktest.NewProxy(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}

// echoServer is a TCP server on 127.0.0.1 that writes back what it reads.
// Close stops it and joins its goroutines.
type echoServer struct {
	ln net.Listener
	wg sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func startEcho(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln, conns: make(map[net.Conn]struct{})}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.mu.Lock()
			e.conns[c] = struct{}{}
			e.mu.Unlock()
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				_, _ = io.Copy(c, c)
				// Propagate the client's half-close, as a well-behaved
				// peer does.
				_ = c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	t.Cleanup(e.close)
	return e
}

func (e *echoServer) addr() string { return e.ln.Addr().String() }

func (e *echoServer) close() {
	e.ln.Close()
	e.mu.Lock()
	for c := range e.conns {
		c.Close()
	}
	e.mu.Unlock()
	e.wg.Wait()
}

// dial connects to addr and registers the connection's closing.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes line and reads it back within timeout.
func roundTrip(c net.Conn, line string, timeout time.Duration) error {
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if got != line+"\n" {
		return errors.New("echo mismatch: " + got)
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestProxyTCP(t *testing.T) {
	leaktest.Check(t)
	e := startEcho(t)
	p := newProxy(t, "127.0.0.1:1") // nothing listens there
	if got := p.Accepted(); got != 0 {
		t.Fatalf("Accepted = %d before any connection", got)
	}

	// A connection to an unreachable target is closed.
	c := dial(t, p.Addr())
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("read through a proxy to nowhere: err = %v, want the connection closed", err)
	}

	p.SetTarget(e.addr())
	c = dial(t, p.Addr())
	if err := roundTrip(c, "hello", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := p.Accepted(); got != 2 {
		t.Errorf("Accepted = %d, want 2", got)
	}

	// A half-close travels through the proxy and back.
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("after half-close: read %d bytes, %v; want EOF", n, err)
	}

	// Cut closes established connections; new ones work.
	c = dial(t, p.Addr())
	if err := roundTrip(c, "before cut", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Cut()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("read after Cut: err = %v, want the connection closed", err)
	}
	c = dial(t, p.Addr())
	if err := roundTrip(c, "after cut", 5*time.Second); err != nil {
		t.Fatal(err)
	}

	// An open-ended blackhole stalls old and new connections until
	// Restore, which closes them.
	p.Blackhole(0)
	fresh := dial(t, p.Addr())
	for _, conn := range []net.Conn{c, fresh} {
		if err := roundTrip(conn, "stalled", 200*time.Millisecond); !isTimeout(err) {
			t.Errorf("round trip during blackhole: err = %v, want a timeout", err)
		}
	}
	p.Restore()
	for _, conn := range []net.Conn{c, fresh} {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Errorf("read after Restore: err = %v, want the connection closed", err)
		}
	}
	c = dial(t, p.Addr())
	if err := roundTrip(c, "restored", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Restore() // no blackhole: no-op

	// A timed blackhole ends by itself.
	p.Blackhole(300 * time.Millisecond)
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("read through a timed blackhole: err = %v, want the connection closed at its end", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("blackholed connection closed after %v, before the blackhole ended", d)
	}
	c = dial(t, p.Addr())
	if err := roundTrip(c, "after timed blackhole", 5*time.Second); err != nil {
		t.Fatal(err)
	}

	// Close ends everything, including a pending timed blackhole.
	p.Blackhole(time.Hour)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Error("proxy accepts after Close")
	}
}

func TestProxyZK(t *testing.T) {
	leaktest.Check(t)
	p := newProxy(t, shared.Servers[0].Addr())
	conn, events := connect(t, p.Addr())
	waitState(t, events, zk.StateHasSession, 10*time.Second)
	if _, err := conn.Create("/proxied", []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	defer conn.Delete("/proxied", -1)
	if got := p.Accepted(); got != 1 {
		t.Errorf("Accepted = %d, want 1", got)
	}

	t.Run("Cut", func(t *testing.T) {
		sid := conn.SessionID()
		p.Cut()
		waitState(t, events, zk.StateDisconnected, 5*time.Second)
		waitState(t, events, zk.StateHasSession, 10*time.Second)
		if conn.SessionID() != sid {
			t.Errorf("session changed from %x to %x", sid, conn.SessionID())
		}
		if got := p.Accepted(); got != 2 {
			t.Errorf("Accepted = %d, want 2", got)
		}
		if _, _, err := conn.Get("/proxied"); err != nil {
			t.Error(err)
		}
	})

	t.Run("Blackhole", func(t *testing.T) {
		const outage = time.Second
		p.Blackhole(outage)
		start := time.Now()
		type result struct {
			err error
			at  time.Duration
		}
		res := make(chan result, 1)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := conn.Get("/proxied")
			res <- result{err, time.Since(start)}
		}()
		defer wg.Wait()

		select {
		case r := <-res:
			t.Fatalf("Get answered during the blackhole after %v: %v", r.at, r.err)
		case <-time.After(outage - 200*time.Millisecond):
		}
		select {
		case r := <-res:
			t.Logf("Get during the blackhole returned after %v: %v", r.at, r.err)
		case <-time.After(10 * time.Second):
			t.Fatal("Get did not return after the blackhole")
		}
		eventually(t, 10*time.Second, func() error {
			_, _, err := conn.Get("/proxied")
			return err
		})
	})

	t.Run("Latency", func(t *testing.T) {
		timeGet := func() time.Duration {
			t.Helper()
			start := time.Now()
			if _, _, err := conn.Get("/proxied"); err != nil {
				t.Fatal(err)
			}
			return time.Since(start)
		}
		eventually(t, 10*time.Second, func() error {
			_, _, err := conn.Get("/proxied")
			return err
		})
		base := timeGet()
		const latency = 150 * time.Millisecond
		p.SetLatency(latency)
		slow := timeGet()
		p.SetLatency(0)
		// The first Get after removing the delay may still queue behind
		// delayed pings.
		timeGet()
		fast := timeGet()
		t.Logf("Get took %v, %v with %v latency, then %v", base, slow, latency, fast)
		if slow < 2*latency {
			t.Errorf("Get with %v latency each way took %v, want at least %v", latency, slow, 2*latency)
		}
		if fast >= latency {
			t.Errorf("Get after SetLatency(0) took %v", fast)
		}
	})
}
