package zktest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// proxyDialTimeout bounds connecting to the target for one accepted
	// connection; on failure the accepted connection is closed.
	proxyDialTimeout = 5 * time.Second
	// proxyQueueLen is how many chunks may wait, per direction, for their
	// latency to elapse before reading stops.
	proxyQueueLen = 256
	proxyBufSize  = 32 << 10
)

// Proxy is a TCP proxy on 127.0.0.1 that a test puts between a client and
// a server to break, stall or slow their traffic. Each accepted connection
// is forwarded to the target current at accept time. Its methods are safe
// for concurrent use. Close it when done: it owns goroutines.
type Proxy struct {
	ln       net.Listener
	ctx      context.Context // canceled by Close, aborting pending dials
	cancel   context.CancelFunc
	wg       sync.WaitGroup // every goroutine of the proxy
	accepted atomic.Int64
	latency  atomic.Int64 // time.Duration

	mu     sync.Mutex
	target string
	conns  map[*proxyConn]struct{}
	closed bool
	// blackholed is true between Blackhole and its end. bhStop, when not
	// nil, stops the goroutine that ends a timed blackhole.
	blackholed bool
	bhStop     chan struct{}
}

// NewProxy listens on a free port of 127.0.0.1 and forwards connections to
// target ("host:port").
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("zktest: proxy listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		ln:     ln,
		ctx:    ctx,
		cancel: cancel,
		target: target,
		conns:  make(map[*proxyConn]struct{}),
	}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr returns the address clients connect to, "127.0.0.1:<port>".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetTarget changes where connections accepted from now on are forwarded.
// Established connections keep their target.
func (p *Proxy) SetTarget(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = addr
}

// Accepted returns how many connections the proxy has accepted so far.
func (p *Proxy) Accepted() int64 { return p.accepted.Load() }

// SetLatency delays every chunk of data read from now on by d before it is
// forwarded, in each direction, preserving order. A round trip through the
// proxy therefore takes at least 2*d more. d <= 0 removes the delay.
func (p *Proxy) SetLatency(d time.Duration) {
	p.latency.Store(int64(max(d, 0)))
}

// Cut closes every current connection, both the client's and the
// target's side. Connections accepted afterwards work normally.
func (p *Proxy) Cut() {
	for _, c := range p.snapshot(false) {
		c.close()
	}
}

// Blackhole stalls all traffic for d: existing connections and connections
// accepted meanwhile stay open, but whatever either side sends is read and
// dropped, and the target is not even dialed for new ones. When the
// blackhole ends, after d or at Restore, every connection that lived
// through it is closed and connections accepted afterwards work normally.
// d <= 0 blackholes until Restore. Calling Blackhole during a blackhole
// replaces its end.
func (p *Proxy) Blackhole(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if p.bhStop != nil {
		close(p.bhStop)
		p.bhStop = nil
	}
	p.blackholed = true
	for c := range p.conns {
		c.blackholed.Store(true)
	}
	if d > 0 {
		stop := make(chan struct{})
		p.bhStop = stop
		p.wg.Add(1)
		go p.endBlackholeAfter(d, stop)
	}
}

// endBlackholeAfter ends the blackhole after d unless stop is closed first
// (by Restore, Close or a later Blackhole).
func (p *Proxy) endBlackholeAfter(d time.Duration, stop chan struct{}) {
	defer p.wg.Done()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		p.restore(stop)
	case <-stop:
	}
}

// Restore ends a blackhole now, closing the connections that lived through
// it. It is a no-op when no blackhole is in effect.
func (p *Proxy) Restore() {
	p.restore(nil)
}

// restore ends the blackhole. A non-nil stop identifies the timed
// blackhole the caller ends; restore does nothing if that one has been
// replaced or ended already.
func (p *Proxy) restore(stop chan struct{}) {
	p.mu.Lock()
	if stop != nil && p.bhStop != stop {
		p.mu.Unlock()
		return
	}
	if p.bhStop != nil {
		if stop == nil {
			close(p.bhStop)
		}
		p.bhStop = nil
	}
	if !p.blackholed {
		p.mu.Unlock()
		return
	}
	p.blackholed = false
	p.mu.Unlock()

	for _, c := range p.snapshot(true) {
		c.close()
	}
}

// snapshot returns the current connections, only the blackholed ones if
// blackholedOnly is set.
func (p *Proxy) snapshot(blackholedOnly bool) []*proxyConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	cs := make([]*proxyConn, 0, len(p.conns))
	for c := range p.conns {
		if !blackholedOnly || c.blackholed.Load() {
			cs = append(cs, c)
		}
	}
	return cs
}

// Close stops accepting, closes every connection and waits for all of the
// proxy's goroutines to return. It is idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return nil
	}
	p.closed = true
	if p.bhStop != nil {
		close(p.bhStop)
		p.bhStop = nil
	}
	p.mu.Unlock()

	p.cancel()
	err := p.ln.Close()
	for _, c := range p.snapshot(false) {
		c.close()
	}
	p.wg.Wait()
	if err != nil {
		return fmt.Errorf("zktest: proxy close: %w", err)
	}
	return nil
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient failure such as running out of descriptors:
			// back off briefly unless the proxy is closing.
			select {
			case <-p.ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		p.accepted.Add(1)

		c := &proxyConn{p: p, client: conn, done: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			conn.Close()
			return
		}
		p.conns[c] = struct{}{}
		c.blackholed.Store(p.blackholed)
		target := p.target
		p.wg.Add(1)
		p.mu.Unlock()
		go c.run(target)
	}
}

// proxyConn is one client connection and, unless it was accepted during a
// blackhole, its connection to the target.
type proxyConn struct {
	p      *Proxy
	client net.Conn
	// blackholed is set for good once the connection has lived through a
	// blackhole: nothing more is forwarded, and the end of the blackhole
	// closes it.
	blackholed atomic.Bool
	done       chan struct{} // closed by close

	mu     sync.Mutex
	server net.Conn // set once dialed
	closed bool

	halves atomic.Int32 // directions that have finished cleanly
}

// run serves the connection until it closes; it returns after every
// goroutine it started has returned.
func (c *proxyConn) run(target string) {
	defer c.p.wg.Done()
	defer c.close()

	if c.blackholed.Load() {
		// Accepted during a blackhole: hold the connection open and drop
		// what the client sends until the blackhole's end closes it.
		_, _ = io.Copy(io.Discard, c.client)
		return
	}

	d := net.Dialer{Timeout: proxyDialTimeout}
	server, err := d.DialContext(c.p.ctx, "tcp", target)
	if err != nil {
		return
	}
	if !c.setServer(server) {
		server.Close()
		return
	}

	up := make(chan chunk, proxyQueueLen)   // client to server
	down := make(chan chunk, proxyQueueLen) // server to client
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); c.read(c.client, up) }()
	go func() { defer wg.Done(); c.read(server, down) }()
	go func() { defer wg.Done(); c.write(server, up) }()
	c.write(c.client, down)
	wg.Wait()
}

func (c *proxyConn) setServer(s net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.server = s
	return true
}

// chunk is data read from one side, due to be written to the other at due.
type chunk struct {
	data []byte
	due  time.Time
}

// read copies src into q, chunk by chunk, until src fails or reaches EOF;
// it then closes q. Data read while the connection is blackholed is
// dropped.
func (c *proxyConn) read(src net.Conn, q chan<- chunk) {
	defer close(q)
	buf := make([]byte, proxyBufSize)
	for {
		n, err := src.Read(buf)
		if n > 0 && !c.blackholed.Load() {
			ch := chunk{
				data: append([]byte(nil), buf[:n]...),
				due:  time.Now().Add(time.Duration(c.p.latency.Load())),
			}
			select {
			case q <- ch:
			case <-c.done:
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				c.close()
			}
			return
		}
	}
}

// write forwards the chunks of q to dst, each once it is due. When q ends
// (its source reached EOF) it half-closes dst; the connection closes once
// both directions have ended that way, or at the first error.
func (c *proxyConn) write(dst net.Conn, q <-chan chunk) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for ch := range q {
		if wait := time.Until(ch.due); wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			select {
			case <-timer.C:
			case <-c.done:
				return
			}
		}
		if c.blackholed.Load() {
			continue
		}
		if _, err := dst.Write(ch.data); err != nil {
			c.close()
			return
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		if err := tc.CloseWrite(); err != nil {
			c.close()
			return
		}
	}
	if c.halves.Add(1) == 2 {
		c.close()
	}
}

// close closes both sides and forgets the connection. It is idempotent;
// the goroutines serving the connection then return promptly.
func (c *proxyConn) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	close(c.done)
	c.client.Close()
	if c.server != nil {
		c.server.Close()
	}
	c.mu.Unlock()

	c.p.mu.Lock()
	delete(c.p.conns, c)
	c.p.mu.Unlock()
}
