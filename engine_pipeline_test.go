package zkmirror_test

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror"
)

// TestEventsDoNotWaitForTheEngine: go-zookeeper delivers watch events and replies on one
// goroutine; while the engine's lock is held elsewhere, a watch event must not hold up the
// replies behind it, and the path is still read once the lock is free.
func TestEventsDoNotWaitForTheEngine(t *testing.T) {
	ctx := ctxT(t, 60*time.Second)
	p := uniquePath(t)
	raw := rawClient(t)
	if _, err := raw.Create(p, []byte("a"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	m := connect(t)
	ch := mustNode(t, m, p).Watch(ctx)
	if v := recv(t, ch, 10*time.Second); string(v.Data) != "a" {
		t.Fatalf("first value %q, want a", v.Data)
	}

	release := zkmirror.HoldEngineLock(m)
	var once sync.Once
	unlock := func() { once.Do(release) }
	t.Cleanup(unlock)
	if _, err := raw.Set(p, []byte("b"), -1); err != nil {
		unlock()
		t.Fatal(err)
	}
	// The server sent the data watch's event before it answers a request made after the
	// Set returned: the reply comes after the event on the same connection.
	done := make(chan error, 1)
	go func() {
		_, _, err := zkmirror.ReadConn(m).Exists(p)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			unlock()
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		unlock()
		<-done
		t.Fatal("a reply waited behind a watch event for the engine's lock")
	}
	unlock()
	for v := recv(t, ch, 10*time.Second); string(v.Data) != "b"; v = recv(t, ch, 10*time.Second) {
	}
}

// gatedConn holds back what the server sends while its gate is closed, and counts the
// getData requests the client writes.
type gatedConn struct {
	net.Conn
	gate *readGate

	wmu     sync.Mutex
	wbuf    []byte
	frames  int
	getData *atomic.Int64
	wrote   chan struct{} // one slot: poked at each getData counted
}

type readGate struct {
	mu   sync.Mutex
	open chan struct{} // nil: open
}

func (g *readGate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open == nil {
		g.open = make(chan struct{})
	}
}

func (g *readGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open != nil {
		close(g.open)
		g.open = nil
	}
}

func (g *readGate) wait() {
	g.mu.Lock()
	ch := g.open
	g.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

func (c *gatedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.gate.wait()
	return n, err
}

// Write counts getData requests (opcode 4) in the framed stream; the first frame is the
// connect request, which has no opcode.
func (c *gatedConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	c.wbuf = append(c.wbuf, p...)
	for len(c.wbuf) >= 4 {
		l := int(binary.BigEndian.Uint32(c.wbuf))
		if len(c.wbuf) < 4+l {
			break
		}
		if c.frames > 0 && l >= 8 && int32(binary.BigEndian.Uint32(c.wbuf[8:])) == 4 {
			c.getData.Add(1)
			select {
			case c.wrote <- struct{}{}:
			default:
			}
		}
		c.frames++
		c.wbuf = c.wbuf[4+l:]
	}
	c.wmu.Unlock()
	return c.Conn.Write(p)
}

// TestQueuedReadDoesNotWaitForABusyWorker: a path queued while every worker is waiting for
// a reply gets a worker of its own (up to the read concurrency) instead of waiting for that
// reply. The server's answers are held back, so only the requests the client writes tell.
func TestQueuedReadDoesNotWaitForABusyWorker(t *testing.T) {
	ctx := ctxT(t, 60*time.Second)
	a, b := uniquePath(t)+"-a", uniquePath(t)+"-b"
	raw := rawClient(t)
	for _, p := range []string{a, b} {
		if _, err := raw.Create(p, []byte(p), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	gate, getData, wrote, dial := gatedDialer()
	m := connect(t, zkmirror.WithDialer(dial), zkmirror.WithReadConcurrency(4))
	waitState(t, m.States(ctx), zkmirror.StateConnected)
	t.Cleanup(gate.release) // before m closes (cleanups run last first)

	gate.close()
	chA := mustNode(t, m, a).Watch(ctx)
	waitCount := func(want int64, what string) {
		t.Helper()
		deadline := time.NewTimer(10 * time.Second)
		defer deadline.Stop()
		for getData.Load() < want {
			select {
			case <-wrote:
			case <-deadline.C:
				gate.release()
				t.Fatalf("%s: %d getData requests written, want %d", what, getData.Load(), want)
			}
		}
	}
	waitCount(1, "the first path's read")
	chB := mustNode(t, m, b).Watch(ctx)
	waitCount(2, "the second path's read, while the first one's reply is held back")
	gate.release()
	if v := recv(t, chA, 10*time.Second); string(v.Data) != a {
		t.Fatalf("%s: %q", a, v.Data)
	}
	if v := recv(t, chB, 10*time.Second); string(v.Data) != b {
		t.Fatalf("%s: %q", b, v.Data)
	}
}

// TestWatchEventReadsAreNotHeldToTheLoadConcurrency: paths whose watches fired are read
// again at once, not one read concurrency's worth at a time: with a read concurrency of 1,
// four changed paths have four reads in flight while the server's answers are held back.
func TestWatchEventReadsAreNotHeldToTheLoadConcurrency(t *testing.T) {
	ctx := ctxT(t, 60*time.Second)
	base := uniquePath(t)
	raw := rawClient(t)
	paths := make([]string, 4)
	for i := range paths {
		paths[i] = fmt.Sprintf("%s-%d", base, i)
		if _, err := raw.Create(paths[i], []byte("a"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	gate, getData, wrote, dial := gatedDialer()
	m := connect(t, zkmirror.WithDialer(dial), zkmirror.WithReadConcurrency(1))
	chans := make([]<-chan zkmirror.Value, len(paths))
	for i, p := range paths {
		chans[i] = mustNode(t, m, p).Watch(ctx)
		if v := recv(t, chans[i], 10*time.Second); string(v.Data) != "a" {
			t.Fatalf("%s: first value %q", p, v.Data)
		}
	}
	t.Cleanup(gate.release) // before m closes (cleanups run last first)

	// The events reach the mirror while its engine is held, so that all four paths are
	// queued at once when it is let go; the server's answers are held back from then on.
	release := zkmirror.HoldEngineLock(m)
	var once sync.Once
	unlock := func() { once.Do(release) }
	t.Cleanup(unlock)
	for _, p := range paths {
		if _, err := raw.Set(p, []byte("b"), -1); err != nil {
			unlock()
			t.Fatal(err)
		}
	}
	if _, _, err := zkmirror.ReadConn(m).Exists(base); err != nil { // answered after the events
		unlock()
		t.Fatal(err)
	}
	before := getData.Load()
	gate.close()
	unlock()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for getData.Load()-before < int64(len(paths)) {
		select {
		case <-wrote:
		case <-deadline.C:
			gate.release()
			t.Fatalf("%d reads in flight for %d changed paths, with the replies held back", getData.Load()-before, len(paths))
		}
	}
	gate.release()
	for _, ch := range chans {
		for v := recv(t, ch, 10*time.Second); string(v.Data) != "b"; v = recv(t, ch, 10*time.Second) {
		}
	}
}

// gatedDialer returns a dialer whose connections hold replies back while gate is closed,
// count the getData requests written in getData and signal each one on wrote.
func gatedDialer() (gate *readGate, getData *atomic.Int64, wrote chan struct{}, dial func(network, address string, timeout time.Duration) (net.Conn, error)) {
	gate, getData, wrote = &readGate{}, new(atomic.Int64), make(chan struct{}, 1)
	dial = func(network, address string, timeout time.Duration) (net.Conn, error) {
		c, err := net.DialTimeout(network, address, timeout)
		if err != nil {
			return nil, err
		}
		return &gatedConn{Conn: c, gate: gate, getData: getData, wrote: wrote}, nil
	}
	return gate, getData, wrote, dial
}
