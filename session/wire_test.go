package session

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// Packets as go-zookeeper and ZooKeeper write them: a 4-byte length, then the body.

func packet(fields ...any) []byte {
	var body bytes.Buffer
	for _, f := range fields {
		if err := binary.Write(&body, binary.BigEndian, f); err != nil {
			panic(err)
		}
	}
	out := binary.BigEndian.AppendUint32(nil, uint32(body.Len()))
	return append(out, body.Bytes()...)
}

func connectRequest(lastZxid, sessionID int64) []byte {
	return packet(int32(0), lastZxid, int32(4000), sessionID, int32(16), [16]byte{1, 2, 3})
}

func connectResponse(timeoutMs int32, sessionID int64) []byte {
	return packet(int32(0), timeoutMs, sessionID, int32(16), [16]byte{1, 2, 3})
}

func reply(xid int32, zxid int64, body ...any) []byte {
	return packet(append([]any{xid, zxid, int32(0)}, body...)...)
}

func request(xid, opcode int32, body ...any) []byte {
	return packet(append([]any{xid, opcode}, body...)...)
}

func setWatches(xid int32, relZxid int64) []byte {
	// relativeZxid, then three string lists: one data watch "/a", no exist or child watches
	return request(xid, opSetWatches, relZxid, int32(1), int32(2), [2]byte{'/', 'a'}, int32(0), int32(0))
}

func zxidOf(pkt []byte) int64 { return int64(binary.BigEndian.Uint64(pkt[4+replyZxid:])) }

// fakeConn serves reads from a byte stream in chunks of a given size and records writes.
type fakeConn struct {
	net.Conn // nil: only Read, Write and the deadlines are used
	in       []byte
	chunk    int
	readErr  error // returned once in is exhausted; io.EOF if nil
	out      bytes.Buffer
	writes   int
}

func (c *fakeConn) Read(p []byte) (int, error) {
	if len(c.in) == 0 {
		if c.readErr != nil {
			return 0, c.readErr
		}
		return 0, io.EOF
	}
	n := min(len(p), c.chunk, len(c.in))
	copy(p, c.in[:n])
	c.in = c.in[n:]
	return n, nil
}

func (c *fakeConn) Write(p []byte) (int, error) {
	c.writes++
	return c.out.Write(p)
}

func (c *fakeConn) Close() error                     { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }

func newTestConn(book *zxidBook, fc *fakeConn) *boundedConn {
	s := newSockets(nil, func() time.Duration { return time.Second }, book)
	bc := &boundedConn{Conn: fc, owner: s}
	bc.r.book, bc.w.book = book, book
	return bc
}

func newBook(timeout time.Duration) *zxidBook {
	return &zxidBook{timeout: func() time.Duration { return timeout }}
}

// readLikeZK reads packets the way go-zookeeper does: the length, then the body, each with
// io.ReadFull.
func readLikeZK(t *testing.T, r io.Reader) [][]byte {
	t.Helper()
	var pkts [][]byte
	for {
		var l [4]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return pkts
		}
		body := make([]byte, binary.BigEndian.Uint32(l[:]))
		if _, err := io.ReadFull(r, body); err != nil {
			t.Fatalf("body: %v", err)
		}
		pkts = append(pkts, append(l[:], body...))
	}
}

// TestReplyZxidsNeverReachGoZookeeper: whatever the chunking of the stream, every reply's
// zxid is zero when go-zookeeper decodes it (so its receive loop never stores one), the
// session records the last, and watch events, pings and the handshake answer pass unchanged.
func TestReplyZxidsNeverReachGoZookeeper(t *testing.T) {
	stream := [][]byte{
		connectResponse(4000, 0x55),
		reply(1, 0x100, int32(3), [3]byte{'a', 'b', 'c'}),
		packet(int32(-1), int64(-1), int32(0), int32(4), int32(3), int32(2), [2]byte{'/', 'a'}), // watch event
		reply(-2, 0x101),        // ping
		reply(2, 0),             // a reply without a zxid (an auth answer)
		reply(3, 0x1_0000_0102), // epoch 1
		reply(4, 0x1_0000_0103, int32(-101)),
	}
	var all []byte
	for _, p := range stream {
		all = append(all, p...)
	}
	for chunk := 1; chunk <= len(all); chunk++ {
		book := newBook(time.Second)
		var negotiated int32
		book.onTimeout = func(ms int32) { negotiated = ms }
		c := newTestConn(book, &fakeConn{in: bytes.Clone(all), chunk: chunk})
		got := readLikeZK(t, c)
		if len(got) != len(stream) {
			t.Fatalf("chunk %d: %d packets, want %d", chunk, len(got), len(stream))
		}
		for i, p := range got {
			want := bytes.Clone(stream[i])
			if i > 0 && int32(binary.BigEndian.Uint32(want[4:])) >= 0 {
				binary.BigEndian.PutUint64(want[4+replyZxid:], 0)
			}
			if !bytes.Equal(p, want) {
				t.Fatalf("chunk %d: packet %d\n got %x\nwant %x", chunk, i, p, want)
			}
		}
		if got := book.last.Load(); got != 0x1_0000_0103 {
			t.Fatalf("chunk %d: last zxid %#x", chunk, got)
		}
		if negotiated != 4000 {
			t.Fatalf("chunk %d: negotiated timeout %d", chunk, negotiated)
		}
	}
}

// TestPacketsToTheServerCarryTheSessionsZxid: the connect request says the last zxid read
// (zero for a new session or once forgotten), and every SetWatches on a socket says the
// last zxid read before that socket's handshake, even if replies came in since; nothing else
// is changed, and the caller's buffer never is.
func TestPacketsToTheServerCarryTheSessionsZxid(t *testing.T) {
	for _, tc := range []struct {
		name      string
		last      int64
		sessionID int64
		forget    bool
		splitAt   int // the connect request is written in two parts split here (0: one write)
		wantHS    int64
	}{
		{"same session", 0x200, 0x55, false, 0, 0x200},
		{"new session", 0x200, 0, false, 0, 0},
		{"afresh", 0x200, 0x55, true, 0, 0},
		{"split connect request", 0x200, 0x55, false, 7, 0x200},
		{"split in the length", 0x300, 0x55, false, 2, 0x300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			book := newBook(time.Second)
			book.last.Store(tc.last)
			book.forget.Store(tc.forget)
			fc := &fakeConn{in: append(connectResponse(4000, 0x55), reply(1, tc.last+0x50)...), chunk: 1 << 20}
			c := newTestConn(book, fc)

			hs := connectRequest(0, tc.sessionID)
			orig := bytes.Clone(hs)
			parts := [][]byte{hs}
			if tc.splitAt > 0 {
				parts = [][]byte{hs[:tc.splitAt], hs[tc.splitAt:]}
			}
			for _, p := range parts {
				if n, err := c.Write(p); n != len(p) || err != nil {
					t.Fatalf("write: %d %v", n, err)
				}
			}
			if !bytes.Equal(hs, orig) {
				t.Fatal("the caller's buffer was changed")
			}
			if fc.writes != 1 {
				t.Fatalf("connect request in %d writes, want 1", fc.writes)
			}
			sent := fc.out.Bytes()
			if z := int64(binary.BigEndian.Uint64(sent[4+connReqZxid:])); z != tc.wantHS {
				t.Fatalf("LastZxidSeen %#x, want %#x", z, tc.wantHS)
			}
			want := bytes.Clone(orig)
			binary.BigEndian.PutUint64(want[4+connReqZxid:], uint64(tc.wantHS))
			if tc.forget { // a new session: no id, no password
				want = connectRequest(0, 0)
				clear(want[4+connReqMin+4:])
			}
			if !bytes.Equal(sent, want) {
				t.Fatalf("connect request changed beyond its zxid:\n got %x\nwant %x", sent, want)
			}

			relZxid := tc.last
			if tc.forget {
				relZxid = 0 // afresh: every watch fires on the new session
			}
			readLikeZK(t, c) // the answer and a reply with a newer zxid
			if book.last.Load() != tc.last+0x50 {
				t.Fatalf("last %#x", book.last.Load())
			}

			fc.out.Reset()
			get := request(2, 4, int32(2), [2]byte{'/', 'a'}, true)
			sw := setWatches(3, 0)
			swOrig := bytes.Clone(sw)
			for _, p := range [][]byte{get, sw[:9], sw[9:], get} {
				if n, err := c.Write(p); n != len(p) || err != nil {
					t.Fatalf("write: %d %v", n, err)
				}
			}
			if !bytes.Equal(sw, swOrig) {
				t.Fatal("the caller's SetWatches buffer was changed")
			}
			wantOut := append(append(bytes.Clone(get), setWatches(3, relZxid)...), get...)
			if !bytes.Equal(fc.out.Bytes(), wantOut) {
				t.Fatalf("requests\n got %x\nwant %x", fc.out.Bytes(), wantOut)
			}
		})
	}
}

// TestExpiredHandshakeResetsTheZxid: an answer without a session (the session expired) makes
// the next session start from zero, as go-zookeeper itself does.
func TestExpiredHandshakeResetsTheZxid(t *testing.T) {
	book := newBook(time.Second)
	book.last.Store(0x900)
	c := newTestConn(book, &fakeConn{in: connectResponse(0, 0), chunk: 3})
	if _, err := c.Write(connectRequest(0, 0x55)); err != nil {
		t.Fatal(err)
	}
	readLikeZK(t, c)
	if book.last.Load() != 0 {
		t.Fatalf("last %#x after an expired handshake", book.last.Load())
	}
}

// TestRefusedHandshakesStartAfresh: a server that closes the connection after each connect
// request, for longer than the session timeout and at least minRefusals times, makes the next
// connect request ask for a new session, once; an answered handshake, or a long gap without
// refusals, ends the run.
func TestRefusedHandshakesStartAfresh(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	for _, tc := range []struct {
		name   string
		events []time.Time // refusals; a zero time is an answered handshake
		last   int64
		want   bool
	}{
		{"three refusals over the timeout", []time.Time{ms(0), ms(600), ms(1001)}, 0x10, true},
		{"within the timeout", []time.Time{ms(0), ms(300), ms(900)}, 0x10, false},
		{"two refusals only", []time.Time{ms(0), ms(5000)}, 0x10, false},
		{"an answer in between", []time.Time{ms(0), ms(600), {}, ms(1100), ms(1500)}, 0x10, false},
		{"nothing to forget", []time.Time{ms(0), ms(600), ms(1100)}, 0, false},
		{"a gap without refusals", []time.Time{ms(0), ms(600), ms(600 + 1000 + int(runGap/time.Millisecond) + 1), ms(6000)}, 0x10, false},
		{"refusals on both sides of a short gap", []time.Time{ms(0), ms(1500), ms(3000)}, 0x10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			book := newBook(time.Second)
			book.last.Store(tc.last)
			forgot := 0
			book.onForget = func() { forgot++ }
			for _, at := range tc.events {
				if at.IsZero() {
					book.accepted(0x55, 4000)
				} else {
					book.refused(at)
				}
			}
			if book.forget.Load() != tc.want || forgot != map[bool]int{true: 1}[tc.want] {
				t.Fatalf("forget %v (logged %d), want %v", book.forget.Load(), forgot, tc.want)
			}
			if tc.want {
				if !book.afresh() || book.last.Load() != 0 {
					t.Fatal("afresh did not clear the zxid")
				}
				if book.afresh() {
					t.Fatal("afresh twice for one run")
				}
			}
		})
	}
}

// TestRefusalIsAClosedConnectionBeforeTheAnswer: only a connection the server closes after our
// connect request and before its answer counts, once per socket.
func TestRefusalIsAClosedConnectionBeforeTheAnswer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []byte
		readErr error
		write   bool
		want    int
	}{
		{"closed after the request", nil, io.EOF, true, 1},
		{"reset after the request", connectResponse(4000, 0x55)[:6], io.ErrUnexpectedEOF, true, 1},
		{"closed before the request", nil, io.EOF, false, 0},
		{"closed after the answer", connectResponse(4000, 0x55), io.EOF, true, 0},
		{"timed out", nil, timeoutErr{}, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			book := newBook(time.Hour)
			book.last.Store(0x10)
			c := newTestConn(book, &fakeConn{in: tc.in, chunk: 1 << 20, readErr: tc.readErr})
			if tc.write {
				if _, err := c.Write(connectRequest(0, 0x55)); err != nil {
					t.Fatal(err)
				}
			}
			buf := make([]byte, 64)
			for range 3 {
				if _, err := c.Read(buf); err != nil {
					continue
				}
			}
			book.mu.Lock()
			got := book.refusals
			book.mu.Unlock()
			if got != tc.want {
				t.Fatalf("refusals %d, want %d", got, tc.want)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// eofConn returns all its data and io.EOF from one read.
type eofConn struct {
	fakeConn
	reads int
}

func (c *eofConn) Read(p []byte) (int, error) {
	c.reads++
	n := copy(p, c.in)
	c.in = c.in[n:]
	if len(c.in) == 0 {
		return n, io.EOF
	}
	return n, nil
}

// TestReadsAreBuffered: one read from the socket serves several of go-zookeeper's reads, and
// an error that came with data is returned only once that data has been read.
func TestReadsAreBuffered(t *testing.T) {
	var stream []byte
	stream = append(stream, connectResponse(4000, 0x55)...)
	for i := range 20 {
		stream = append(stream, reply(int32(i+1), int64(0x100+i), int32(1), [1]byte{'x'})...)
	}
	fc := &eofConn{fakeConn: fakeConn{in: bytes.Clone(stream)}}
	book := newBook(time.Second)
	c := newTestConn(book, &fc.fakeConn)
	c.Conn = fc
	got := readLikeZK(t, c)
	if len(got) != 21 {
		t.Fatalf("%d packets, want 21", len(got))
	}
	if fc.reads != 1 {
		t.Fatalf("%d reads from the socket for 21 packets, want 1", fc.reads)
	}
	if _, err := c.Read(make([]byte, 4)); err != io.EOF {
		t.Fatalf("after the data: %v, want io.EOF", err)
	}
	if book.last.Load() != 0x100+19 {
		t.Fatalf("last zxid %#x", book.last.Load())
	}
}
