package session

import (
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The session owns the connection's zxid; go-zookeeper never writes it.
//
// The rule: no reply that go-zookeeper reads carries a zxid. Every socket go-zookeeper opens
// is ours (see sockets), and as each reply header passes through Read, the zxid in it is
// recorded here and replaced by zero before go-zookeeper decodes it. The two packets that
// carry a zxid to the server get it from here as they pass through Write: the connect
// request's LastZxidSeen and each SetWatches request's RelativeZxid.
//
// Why: go-zookeeper v1.0.4 keeps the last zxid in a plain field that its receive goroutine
// writes for every reply ("if res.Zxid > 0 { c.lastZxid = res.Zxid }") while its connection
// goroutine reads it, with no ordering between them, to build SetWatches after each reconnect
// that holds watches. The race detector reports that pair at reconnects, in our tests and in
// every program that imports us. The field is private and the write comes before any lock,
// so no order can be imposed from outside; but a reply whose zxid is zero is never stored, so
// with the zxids taken out on the wire the field is written only by the connection goroutine
// itself (its reset on expiry) and the race cannot occur, however requests, replies and
// reconnects interleave. go-zookeeper hands a reply's zxid to no caller, so nothing else
// changes.
//
// What the server sees is what it would see from go-zookeeper without the race: a connect
// request for an existing session carries the last zxid of a reply read (zero for a new
// session), and SetWatches carries the last zxid read before that socket's handshake, so the
// server fires exactly the watches whose nodes changed after what we have seen.
//
// A server whose history went back (rebuilt from empty data, restored from an older backup)
// refuses a client that has seen a newer zxid than its own, by closing the connection after
// the connect request. When handshakes have been refused that way, without a gap, for longer
// than the session timeout, the session starts afresh: the next connect request asks for a
// new session (no session id, no password, zxid zero), which any server grants, and
// go-zookeeper takes the session it is given. The old session is abandoned (a server that
// still knows it expires it, and its ephemeral nodes go then); the Session reports Expired,
// then Connected with a new session, and the mirror resyncs, after Sync, from the server's
// history. A server that is not serving (an ensemble without quorum) also closes connections
// after the connect request: an outage like that longer than the session timeout ends the
// same way, with a new session, as if it had expired.
type zxidBook struct {
	timeout   func() time.Duration // the session timeout, for the refusal rule
	onForget  func()               // called once each time the session is to start afresh
	onTimeout func(ms int32)       // the timeout the server negotiated, at each handshake

	last   atomic.Int64 // zxid of the last reply read; 0 in a new session
	forget atomic.Bool  // the next connect request asks for a new session

	mu           sync.Mutex // guards the three fields below
	refusedSince time.Time  // first refusal of the current run of refused handshakes; zero: none
	lastRefusal  time.Time  // latest refusal of the run
	refusals     int        // refused handshakes in that run
}

// A run of refused handshakes starts afresh when it lasted longer than the session timeout
// and counted at least minRefusals refusals (a cut during one handshake is not a refusal). A
// run ends at an answered handshake, or when no refusal came for runGap beyond the session
// timeout (the servers were down, not refusing, and the retries' backoff is at most
// backoffMax).
const (
	minRefusals = 3
	runGap      = 2 * backoffMax
)

// accepted records a handshake the server answered.
func (b *zxidBook) accepted(sessionID int64, timeoutMs int32) {
	b.mu.Lock()
	b.refusedSince, b.refusals = time.Time{}, 0
	b.mu.Unlock()
	if sessionID == 0 {
		// The session expired: go-zookeeper resets its own zxid and opens a new session.
		b.last.Store(0)
	}
	if timeoutMs > 0 && b.onTimeout != nil {
		b.onTimeout(timeoutMs)
	}
}

// refused records a handshake the server answered by closing the connection.
func (b *zxidBook) refused(now time.Time) {
	b.mu.Lock()
	if b.refusals == 0 || now.Sub(b.lastRefusal) > b.timeout()+runGap {
		b.refusedSince, b.refusals = now, 0
	}
	b.lastRefusal = now
	b.refusals++
	forget := b.refusals >= minRefusals && now.Sub(b.refusedSince) > b.timeout() && b.last.Load() != 0
	if forget {
		b.refusedSince, b.refusals = time.Time{}, 0
	}
	b.mu.Unlock()
	if forget && !b.forget.Swap(true) && b.onForget != nil {
		b.onForget()
	}
}

// afresh reports whether the next connect request asks for a new session, once: it clears
// the last zxid, so the SetWatches go-zookeeper sends on the new session has every watch
// fire, and the mirror reads everything again.
func (b *zxidBook) afresh() bool {
	if !b.forget.Swap(false) {
		return false
	}
	b.last.Store(0)
	return true
}

// Offsets in go-zookeeper's packets (each is a 4-byte length, then the body).
const (
	// connect request: protocolVersion int32, lastZxidSeen int64, timeOut int32,
	// sessionID int64, passwd []byte
	connReqZxid      = 4
	connReqSessionID = 16
	connReqMin       = 24
	// connect response: protocolVersion int32, timeOut int32, sessionID int64, passwd []byte
	connRespTimeout   = 4
	connRespSessionID = 8
	connRespMin       = 16
	// request: xid int32, opcode int32, then the request; SetWatches starts with
	// relativeZxid int64
	reqOpcode      = 4
	setWatchesZxid = 8
	setWatchesEnd  = 16
	opSetWatches   = 101
	// reply: xid int32, zxid int64, err int32; xid < 0 are watch events and pings
	replyZxid    = 4
	replyZxidEnd = 12
)

// frames follows a stream of length-prefixed packets across arbitrary chunks. head keeps the
// first bytes of the current packet's body, as they were before any rewrite.
type frames struct {
	lenBuf [4]byte
	lenN   int // bytes of the length prefix seen
	left   int // body bytes still to come; meaningful when lenN == 4
	off    int // body bytes seen of the current packet
	count  int // packets completed
	head   [connReqMin]byte
}

// prefix consumes length-prefix bytes from the start of b while the current packet's length
// is incomplete and returns how many it took.
func (f *frames) prefix(b []byte) int {
	n := 0
	for f.lenN < 4 && n < len(b) {
		f.lenBuf[f.lenN] = b[n]
		f.lenN++
		n++
		if f.lenN == 4 {
			f.left = int(binary.BigEndian.Uint32(f.lenBuf[:]))
			f.off = 0
		}
	}
	return n
}

// wireReader rewrites and reads the replies of one socket.
type wireReader struct {
	book *zxidBook
	mu   sync.Mutex // guards f
	f    frames
}

// scan processes b, just read, in place: it zeroes the zxid of every reply and records it,
// and reads the answer to the connect request.
func (r *wireReader) scan(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := &r.f
	for len(b) > 0 {
		if f.lenN < 4 {
			b = b[f.prefix(b):]
			if f.lenN == 4 && f.left == 0 {
				r.done()
			}
			continue
		}
		n := min(f.left, len(b))
		chunk := b[:n]
		b = b[n:]
		handshake := f.count == 0
		limit := replyZxidEnd
		if handshake {
			limit = connRespMin
		}
		for i := 0; i < len(chunk) && f.off+i < limit; i++ {
			off := f.off + i
			f.head[off] = chunk[i]
			if !handshake && off >= replyZxid && off < replyZxidEnd && int32(binary.BigEndian.Uint32(f.head[:4])) >= 0 {
				chunk[i] = 0
				if off == replyZxidEnd-1 {
					if z := int64(binary.BigEndian.Uint64(f.head[replyZxid:replyZxidEnd])); z > 0 {
						r.book.last.Store(z)
					}
				}
			}
		}
		f.off += n
		f.left -= n
		if f.left == 0 {
			r.done()
		}
	}
}

// done ends the current packet.
func (r *wireReader) done() {
	f := &r.f
	if f.count == 0 && f.off >= connRespMin {
		r.book.accepted(int64(binary.BigEndian.Uint64(f.head[connRespSessionID:])),
			int32(binary.BigEndian.Uint32(f.head[connRespTimeout:])))
	}
	f.count++
	f.lenN = 0
}

// handshakeAnswered reports whether the server's answer to the connect request was read.
func (r *wireReader) handshakeAnswered() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.f.count > 0
}

// wireWriter rewrites the requests of one socket.
type wireWriter struct {
	book *zxidBook
	mu   sync.Mutex // guards the fields below
	f    frames
	// pending holds a connect request until it is whole: its zxid is decided by the session
	// id that follows it.
	pending []byte
	// relZxid is the last zxid read when this socket's connect request was written: the
	// RelativeZxid of the SetWatches sent on it.
	relZxid int64
	// handshakeSent is set once the connect request was written in full.
	handshakeSent atomic.Bool
}

// rewrite returns what to write for p: p itself, a rewritten copy, or nothing yet (a part of
// the connect request, kept until it is whole).
func (w *wireWriter) rewrite(p []byte) []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f.count > 0 {
		return w.requests(p)
	}
	w.pending = append(w.pending, p...) // a copy: Write must not change p
	if len(w.pending) < 4 {
		return nil
	}
	size := 4 + int(binary.BigEndian.Uint32(w.pending[:4]))
	if len(w.pending) < size {
		return nil
	}
	pkt, rest := w.pending[:size:size], w.pending[size:]
	w.pending = nil
	w.f.count = 1
	if size >= 4+connReqMin {
		body := pkt[4:]
		zxid := w.book.last.Load()
		if binary.BigEndian.Uint64(body[connReqSessionID:]) == 0 {
			zxid = 0 // a new session: go-zookeeper's own zxid is zero then too
		}
		if w.book.afresh() {
			// A new session, whatever go-zookeeper asks: no id, no password, zxid zero.
			zxid = 0
			binary.BigEndian.PutUint64(body[connReqSessionID:], 0)
			clear(body[connReqMin+4:])
		}
		binary.BigEndian.PutUint64(body[connReqZxid:], uint64(zxid))
	}
	w.relZxid = w.book.last.Load()
	w.handshakeSent.Store(true)
	if len(rest) == 0 { // go-zookeeper sends nothing more before the answer
		return pkt
	}
	return append(pkt, w.requests(rest)...)
}

// requests follows the requests after the connect request and sets the RelativeZxid of each
// SetWatches.
func (w *wireWriter) requests(p []byte) []byte {
	f := &w.f
	out, copied := p, false
	for base := 0; base < len(p); {
		b := p[base:]
		if f.lenN < 4 {
			base += f.prefix(b)
			if f.lenN == 4 && f.left == 0 {
				f.count++
				f.lenN = 0
			}
			continue
		}
		n := min(f.left, len(b))
		for i := 0; i < n && f.off+i < setWatchesEnd; i++ {
			off := f.off + i
			f.head[off] = b[i]
			if off >= setWatchesZxid && int32(binary.BigEndian.Uint32(f.head[reqOpcode:])) == opSetWatches {
				if !copied {
					out, copied = append([]byte(nil), p...), true
				}
				out[base+i] = byte(uint64(w.relZxid) >> (8 * (setWatchesEnd - 1 - off)))
			}
		}
		f.off += n
		f.left -= n
		base += n
		if f.left == 0 {
			f.count++
			f.lenN = 0
		}
	}
	return out
}

// isClosedByPeer reports whether a read failed because the server closed the connection.
func isClosedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}
