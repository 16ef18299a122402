package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/internal/zktest"
)

// benchRoot is the parent of every node the benchmark creates.
const benchRoot = "/zkmirror-bench"

// readConcurrency is the mirror's read concurrency (its default unless -read-concurrency
// says otherwise); the raw code pipelines its reads to the same depth.
var readConcurrency = zkmirror.DefaultReadConcurrency

// dataSize is the size of every node's data.
const dataSize = 100

// epoch anchors monotonic timestamps taken on many goroutines (mono).
var epoch = time.Now()

// mono returns the monotonic time since the start of the program, in nanoseconds.
func mono() int64 { return int64(time.Since(epoch)) }

// quietLogger silences go-zookeeper.
type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// rawConn is a plain go-zookeeper connection with a session.
type rawConn struct {
	*zk.Conn
	events <-chan zk.Event
}

// dialRaw connects a go-zookeeper client and waits for its session. cb, if not nil, gets
// every event on go-zookeeper's goroutine (it must return at once).
func dialRaw(ctx context.Context, servers []string, timeout time.Duration, cb func(zk.Event)) (*rawConn, error) {
	if cb == nil {
		cb = func(zk.Event) {}
	}
	conn, events, err := zk.Connect(servers, timeout, zk.WithLogger(quietLogger{}), zk.WithLogInfo(false), zk.WithEventCallback(cb))
	if err != nil {
		return nil, err
	}
	rc := &rawConn{Conn: conn, events: events}
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for conn.State() != zk.StateHasSession {
		select {
		case <-events:
		case <-deadline.C:
			rc.close()
			return nil, fmt.Errorf("raw client: no session with %v after 30s", servers)
		case <-ctx.Done():
			rc.close()
			return nil, ctx.Err()
		}
	}
	return rc, nil
}

// close closes the connection and waits until go-zookeeper's goroutines have ended (its
// event channel closes last).
func (c *rawConn) close() {
	c.Conn.Close()
	for range c.events {
	}
}

// connectMirror connects a Mirror and waits for its first session.
func connectMirror(ctx context.Context, servers []string, opts ...zkmirror.Option) (*zkmirror.Mirror, error) {
	if readConcurrency != zkmirror.DefaultReadConcurrency {
		opts = append([]zkmirror.Option{zkmirror.WithReadConcurrency(readConcurrency)}, opts...)
	}
	m, err := zkmirror.Connect(servers, opts...)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for st := range m.States(cctx) {
		if st == zkmirror.StateConnected {
			return m, nil
		}
	}
	m.Close()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, fmt.Errorf("mirror: no session with %v after 30s", servers)
}

// pipelined runs op(0) … op(n-1) on conc goroutines (a bounded pipeline of synchronous
// go-zookeeper calls on one connection) and returns the first error.
func pipelined(ctx context.Context, n, conc int, op func(i int) error) error {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range min(conc, n) {
		wg.Go(func() {
			for !failed.Load() {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := op(i); err != nil {
					once.Do(func() { firstErr = err })
					failed.Store(true)
					return
				}
				if i%1024 == 0 && ctx.Err() != nil {
					once.Do(func() { firstErr = ctx.Err() })
					failed.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

// childName is the name of the i-th child of a fixture.
func childName(i int) string { return "n" + fmt.Sprintf("%06d", i) }

// childPaths returns the paths of the first n children of root.
func childPaths(root string, n int) []string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = root + "/" + childName(i)
	}
	return ps
}

// payload returns dataSize bytes of data that start with seq.
func payload(seq uint64) []byte {
	b := make([]byte, dataSize)
	binary.BigEndian.PutUint64(b, seq)
	for i := 8; i < len(b); i++ {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

// seqOf returns the sequence number payload put in data, or 0.
func seqOf(data []byte) uint64 {
	if len(data) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(data)
}

// labeled returns dataSize bytes of data starting with label.
func labeled(label string) []byte {
	b := make([]byte, dataSize)
	n := copy(b, label)
	for i := n; i < len(b); i++ {
		b[i] = '.'
	}
	return b
}

// ensurePath creates path and its parents as empty persistent nodes when missing.
func ensurePath(conn *zk.Conn, path string) error {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	cur := ""
	for _, p := range parts {
		cur += "/" + p
		if _, err := conn.Create(cur, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create %s: %w", cur, err)
		}
	}
	return nil
}

// ensureChildren makes root have children n000000 … with data(i), creating the missing ones
// with pipelined Multi batches. Existing children are left as they are.
func ensureChildren(ctx context.Context, conn *zk.Conn, root string, n int, data func(i int) []byte) error {
	if err := ensurePath(conn, root); err != nil {
		return err
	}
	names, _, err := conn.Children(root)
	if err != nil {
		return fmt.Errorf("children %s: %w", root, err)
	}
	have := make(map[string]bool, len(names))
	for _, nm := range names {
		have[nm] = true
	}
	var missing []int
	for i := range n {
		if !have[childName(i)] {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	const batch = 200
	acl := zk.WorldACL(zk.PermAll)
	batches := (len(missing) + batch - 1) / batch
	return pipelined(ctx, batches, 16, func(b int) error {
		lo, hi := b*batch, min((b+1)*batch, len(missing))
		ops := make([]any, 0, hi-lo)
		for _, i := range missing[lo:hi] {
			ops = append(ops, &zk.CreateRequest{Path: root + "/" + childName(i), Data: data(i), Acl: acl})
		}
		if _, err := conn.Multi(ops...); err == nil {
			return nil
		}
		// Someone created some of them meanwhile: one by one.
		for _, i := range missing[lo:hi] {
			if _, err := conn.Create(root+"/"+childName(i), data(i), 0, acl); err != nil && !errors.Is(err, zk.ErrNodeExists) {
				return err
			}
		}
		return nil
	})
}

// watchCounter returns the number of watches the server at addr holds.
type watchCounter func() (int, error)

// serverWatchCount uses zktest's parser when the benchmark runs the server, a plain
// four-letter word otherwise.
func serverWatchCount(s *zktest.Server, addr string) watchCounter {
	if s != nil {
		return s.WatchCount
	}
	return func() (int, error) {
		out, err := fourLetter(addr, "wchs")
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Total watches:"); ok {
				return strconv.Atoi(strings.TrimSpace(v))
			}
		}
		return 0, fmt.Errorf("wchs on %s: no total in %q", addr, out)
	}
}

func fourLetter(addr, cmd string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return "", err
	}
	if _, err := io.WriteString(conn, cmd); err != nil {
		return "", err
	}
	out, err := io.ReadAll(conn)
	return string(out), err
}

// waitFor waits for ch to be closed or to deliver, up to d.
func waitFor(ctx context.Context, ch <-chan struct{}, d time.Duration, what string) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-t.C:
		return fmt.Errorf("timed out after %v waiting for %s", d, what)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sleepCtx sleeps for d unless ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// countdown is a counter that closes done when it reaches zero.
type countdown struct {
	left atomic.Int64
	at   atomic.Int64 // mono() when it reached zero
	done chan struct{}
}

func newCountdown(n int) *countdown {
	c := &countdown{done: make(chan struct{})}
	c.left.Store(int64(n))
	if n <= 0 {
		c.at.Store(mono())
		close(c.done)
	}
	return c
}

// hit counts one; the last one records the time and closes done.
func (c *countdown) hit() {
	if c.left.Add(-1) == 0 {
		c.at.Store(mono())
		close(c.done)
	}
}

// storeMin and storeMax keep the smallest or largest value stored in a.
func storeMin(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if cur != 0 && cur <= v {
			return
		}
		if a.CompareAndSwap(cur, v) {
			return
		}
	}
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if cur >= v {
			return
		}
		if a.CompareAndSwap(cur, v) {
			return
		}
	}
}
