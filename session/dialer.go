package session

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Dialer is go-zookeeper's dialer shape.
type Dialer func(network, address string, timeout time.Duration) (net.Conn, error)

var errClosing = errors.New("session closing")

// sockets wraps a dialer so that every connection go-zookeeper opens is known and can be
// closed by Close, so that no read or write on it can block longer than a bound, and so
// that the zxids in its packets are the session's (see zxidBook).
// go-zookeeper gives the handshake ten times two thirds of the session timeout; against a
// server that accepts and never answers that is several session timeouts of silence.
type sockets struct {
	user  Dialer // nil: net.Dialer
	bound func() time.Duration
	book  *zxidBook

	ctx    context.Context // cancelled by closeAll
	cancel context.CancelFunc

	mu     sync.Mutex // guards closed and conns
	closed bool
	conns  map[*boundedConn]struct{}
}

func newSockets(user Dialer, bound func() time.Duration, book *zxidBook) *sockets {
	ctx, cancel := context.WithCancel(context.Background())
	return &sockets{user: user, bound: bound, book: book, ctx: ctx, cancel: cancel, conns: make(map[*boundedConn]struct{})}
}

func (s *sockets) dial(network, address string, timeout time.Duration) (net.Conn, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, errClosing
	}
	var c net.Conn
	var err error
	if s.user != nil {
		c, err = s.user(network, address, timeout)
	} else {
		d := net.Dialer{Timeout: timeout}
		c, err = d.DialContext(s.ctx, network, address)
	}
	if err != nil {
		return nil, err
	}
	bc := &boundedConn{Conn: c, owner: s}
	bc.r.book, bc.w.book = s.book, s.book
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.Close()
		return nil, errClosing
	}
	s.conns[bc] = struct{}{}
	s.mu.Unlock()
	return bc, nil
}

// closeAll closes every open connection and refuses new ones.
func (s *sockets) closeAll() {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = make(map[*boundedConn]struct{})
	s.mu.Unlock()
	s.cancel()
	for c := range conns {
		c.Conn.Close()
	}
}

type boundedConn struct {
	net.Conn
	owner *sockets
	once  sync.Once
	r     wireReader
	w     wireWriter
	// in buffers reads: go-zookeeper reads every packet with two reads, its length and its
	// body, and one read from the socket usually brings several packets. Only the reading
	// goroutine uses it.
	in    []byte
	inPos int
	inErr error // the socket's error, returned once the buffered bytes are read

	// refusal is set once a failed read has been counted as the server refusing the
	// handshake.
	refusal atomic.Bool
}

// readBufSize is the read buffer of a socket; reads of at least this much bypass it.
const readBufSize = 64 << 10

// Read reads from the socket and takes the zxids out of the replies (see zxidBook).
func (c *boundedConn) Read(p []byte) (int, error) {
	n, err := c.buffered(p)
	if n > 0 {
		c.r.scan(p[:n])
	}
	if err != nil && isClosedByPeer(err) && c.w.handshakeSent.Load() && !c.r.handshakeAnswered() &&
		!c.refusal.Swap(true) {
		c.owner.book.refused(time.Now())
	}
	return n, err
}

// buffered reads into p from the buffer, refilling it with one read from the socket when it
// is empty.
func (c *boundedConn) buffered(p []byte) (int, error) {
	if c.inPos < len(c.in) {
		n := copy(p, c.in[c.inPos:])
		c.inPos += n
		return n, nil
	}
	if err := c.inErr; err != nil {
		return 0, err
	}
	if len(p) >= readBufSize {
		return c.Conn.Read(p)
	}
	if cap(c.in) == 0 {
		c.in = make([]byte, readBufSize)
	}
	m, err := c.Conn.Read(c.in[:cap(c.in)])
	c.in, c.inPos = c.in[:m], 0
	n := copy(p, c.in)
	c.inPos = n
	if err != nil && n < m {
		c.inErr, err = err, nil // the rest first
	}
	return n, err
}

// Write writes p with the session's zxids in the packets that carry one (see zxidBook).
func (c *boundedConn) Write(p []byte) (int, error) {
	out := c.w.rewrite(p)
	if len(out) == 0 {
		return len(p), nil // a part of the connect request, sent when it is whole
	}
	n, err := c.Conn.Write(out)
	if err != nil {
		return min(n, len(p)), err
	}
	return len(p), nil
}

func (c *boundedConn) Close() error {
	c.once.Do(func() {
		c.owner.mu.Lock()
		delete(c.owner.conns, c)
		c.owner.mu.Unlock()
	})
	return c.Conn.Close()
}

// SetReadDeadline caps every read deadline at the bound from now. go-zookeeper sets a fresh
// deadline before waiting for each packet and clears it (zero) before reading the packet's
// body; the clear is ignored, so the body read stays bounded by the deadline set for the
// packet, and no timer is re-armed per packet.
func (c *boundedConn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		return nil
	}
	if limit := time.Now().Add(c.owner.bound()); t.After(limit) {
		t = limit
	}
	return c.Conn.SetReadDeadline(t)
}

// SetWriteDeadline caps non-zero write deadlines at the bound from now; go-zookeeper sets one
// before every write and clears it after.
func (c *boundedConn) SetWriteDeadline(t time.Time) error {
	if !t.IsZero() {
		if limit := time.Now().Add(c.owner.bound()); t.After(limit) {
			t = limit
		}
	}
	return c.Conn.SetWriteDeadline(t)
}

func (c *boundedConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}
