package zkmirror_test

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/internal/zktest"
	"github.com/zkmirror/zkmirror/leaktest"
	"github.com/zkmirror/zkmirror/session"
)

// jute.maxbuffer's default: a request longer than this (after its length prefix) makes the
// server drop the connection.
const serverPacketLimit = 0xfffff

// Encoded sizes, restated from go-zookeeper's structs: header (xid, opcode), then the
// request's fields; a string or []byte is a 4-byte length and its bytes.
func setSize(path string, data int) int { return 8 + 4 + len(path) + 4 + data + 4 }
func createSize(path string, data int) int {
	const worldACL = 4 + (4 + 4 + len("world") + 4 + len("anyone")) // count, perms, scheme, id
	return 8 + 4 + len(path) + 4 + data + worldACL + 4
}

// noSuspension fails if states, read from the Mirror's start, holds a Suspended.
func noSuspension(t *testing.T, states <-chan zkmirror.State) {
	t.Helper()
	for {
		select {
		case st, ok := <-states:
			if !ok {
				return
			}
			if st == zkmirror.StateSuspended {
				t.Fatal("the Mirror's connection dropped")
			}
		default:
			return
		}
	}
}

func TestConnectOptionRanges(t *testing.T) {
	leaktest.Check(t)
	bad := map[string]zkmirror.Option{
		"session timeout 0":       zkmirror.WithSessionTimeout(0),
		"session timeout -1s":     zkmirror.WithSessionTimeout(-time.Second),
		"session timeout 1µs":     zkmirror.WithSessionTimeout(time.Microsecond),
		"session timeout 999µs":   zkmirror.WithSessionTimeout(999 * time.Microsecond),
		"session timeout 600h":    zkmirror.WithSessionTimeout(600 * time.Hour),
		"session timeout max+1ms": zkmirror.WithSessionTimeout(zkmirror.MaxSessionTimeout + time.Millisecond),
		"jitter NaN":              zkmirror.WithResyncJitter(math.NaN()),
		"jitter -0.1":             zkmirror.WithResyncJitter(-0.1),
		"jitter 1.01":             zkmirror.WithResyncJitter(1.01),
		"jitter +Inf":             zkmirror.WithResyncJitter(math.Inf(1)),
		"max data size -1":        zkmirror.WithMaxDataSize(-1),
		"max data size 0":         zkmirror.WithMaxDataSize(0),
		"max data size 1<<40":     zkmirror.WithMaxDataSize(1 << 40),
		"max data size limit+1":   zkmirror.WithMaxDataSize(zkmirror.MaxDataSizeLimit + 1),
		"read concurrency 0":      zkmirror.WithReadConcurrency(0),
		"read concurrency -1":     zkmirror.WithReadConcurrency(-1),
		"auth empty scheme":       zkmirror.WithAuth("", []byte("x")),
		"auth too large":          zkmirror.WithAuth("digest", make([]byte, serverPacketLimit)),
		"chroot relative":         zkmirror.WithChroot("a/b"),
		"chroot trailing slash":   zkmirror.WithChroot("/a/"),
		"chroot astral":           zkmirror.WithChroot("/a\U0001F600"),
		"chroot too long":         zkmirror.WithChroot("/" + strings.Repeat("c", zkmirror.MaxPathLen)),
	}
	for name, opt := range bad {
		m, err := zkmirror.Connect(zkc.Addrs(), opt)
		if !errors.Is(err, zkmirror.ErrInvalidArgument) {
			t.Errorf("%s: %v", name, err)
		}
		if m != nil {
			m.Close()
		}
		if err != nil && (strings.Count(err.Error(), "zkmirror") != 1 || len(err.Error()) > 300) {
			t.Errorf("%s: text %q", name, err)
		}
	}
	if _, err := zkmirror.Connect(zkc.Addrs(), zkmirror.WithChroot("a")); !errors.Is(err, zkmirror.ErrInvalidPath) {
		t.Errorf("a bad chroot also matches ErrInvalidPath: %v", err)
	}
	good := map[string]zkmirror.Option{
		"session timeout max": zkmirror.WithSessionTimeout(zkmirror.MaxSessionTimeout),
		"jitter 0":            zkmirror.WithResyncJitter(0),
		"jitter 1":            zkmirror.WithResyncJitter(1),
		"max data size 1":     zkmirror.WithMaxDataSize(1),
		"max data size limit": zkmirror.WithMaxDataSize(zkmirror.MaxDataSizeLimit),
		"read concurrency 1":  zkmirror.WithReadConcurrency(1),
		"auth largest":        zkmirror.WithAuth("x", make([]byte, serverPacketLimit-8-4-4-len("x")-4)),
		"chroot /":            zkmirror.WithChroot("/"),
		"chroot empty":        zkmirror.WithChroot(""),
		"nil logger":          zkmirror.WithLogger(nil),
		"nil dialer":          zkmirror.WithDialer(nil),
	}
	for name, opt := range good {
		m, err := zkmirror.Connect(zkc.Addrs(), opt)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		m.Close()
	}
}

// The bounds a session timeout may take both give a working Mirror: the server negotiates
// them into its own range.
func TestSessionTimeoutBoundsConnect(t *testing.T) {
	leaktest.Check(t)
	for _, d := range []time.Duration{zkmirror.MinSessionTimeout, zkmirror.MaxSessionTimeout} {
		m := connect(t, zkmirror.WithSessionTimeout(d))
		waitState(t, m.States(ctxT(t, 30*time.Second)), zkmirror.StateConnected)
		if _, err := mustNode(t, m, "/").Children(ctxT(t, 10*time.Second)); err != nil {
			t.Fatalf("%v: %v", d, err)
		}
		m.Close()
	}
}

// A path too long for any request is refused up front, with a short text, and the longest
// accepted one works: its reads fit, and so does go-zookeeper's SetWatches re-arming its
// watch after a reconnect, alone in a request of exactly the server's packet limit.
func TestLongPaths(t *testing.T) {
	leaktest.Check(t)
	proxy := newProxy(t, zkc.Addrs()[0])
	m := connectTo(t, []string{proxy.Addr()}, zkmirror.WithSessionTimeout(10*time.Second))
	ctx := ctxT(t, 60*time.Second)
	states := m.States(ctx)
	waitState(t, states, zkmirror.StateConnected)

	for _, n := range []int{zkmirror.MaxPathLen + 1, 1 << 20, 2 << 20} {
		p := "/" + strings.Repeat("p", n-1)
		_, err := m.Node(p)
		if !errors.Is(err, zkmirror.ErrInvalidPath) {
			t.Fatalf("Node of %d bytes: %v", n, err)
		}
		if len(err.Error()) > 200 || !strings.Contains(err.Error(), "bytes)") {
			t.Fatalf("text of %d bytes: %.300q", len(err.Error()), err)
		}
		if _, err := m.Tree(p); !errors.Is(err, zkmirror.ErrInvalidPath) {
			t.Fatalf("Tree of %d bytes: %v", n, err)
		}
	}
	// With a chroot, the server's path counts.
	mc := connect(t, zkmirror.WithChroot("/chroot"))
	if _, err := mc.Node("/" + strings.Repeat("p", zkmirror.MaxPathLen-len("/chroot")-1)); err != nil {
		t.Fatalf("longest path under a chroot: %v", err)
	}
	if _, err := mc.Node("/" + strings.Repeat("p", zkmirror.MaxPathLen-len("/chroot"))); !errors.Is(err, zkmirror.ErrInvalidPath) {
		t.Fatalf("a byte more under a chroot: %v", err)
	}
	mc.Close()

	longest := mustNode(t, m, "/"+strings.Repeat("p", zkmirror.MaxPathLen-1))
	if _, err := longest.Value(ctx); !errors.Is(err, zkmirror.ErrNoNode) {
		t.Fatalf("the longest path: %v", err)
	}
	other := mustNode(t, m, uniquePath(t))
	if _, err := other.Create(ctx, []byte("a")); err != nil {
		t.Fatal(err)
	}
	noSuspension(t, states)

	// Reconnect: SetWatches carries the longest path's exists watch.
	proxy.Cut()
	waitState(t, states, zkmirror.StateSuspended)
	waitState(t, states, zkmirror.StateConnected)
	if _, err := other.Set(ctx, []byte("b"), -1); err != nil {
		t.Fatal(err)
	}
	if v, err := other.Value(ctx); err != nil || string(v.Data) != "b" {
		t.Fatalf("%+v %v", v, err)
	}
	// A request over the limit would make the server drop us again at once, and again on
	// every reconnect.
	select {
	case st := <-states:
		t.Fatalf("after the reconnect: %v", st)
	case <-time.After(2 * time.Second):
	}
	if _, err := longest.Value(ctx); !errors.Is(err, zkmirror.ErrNoNode) {
		t.Fatalf("the longest path after the reconnect: %v", err)
	}

	// One byte more, on a raw client: its SetWatches no longer fits, and the server drops
	// every connection it makes.
	rawProxy := newProxy(t, zkc.Addrs()[0])
	conn, events, err := zk.Connect([]string{rawProxy.Addr()}, 10*time.Second, zk.WithLogger(nopLogger{}), zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		conn.Close()
		for range events {
		}
	}()
	waitRaw := func(want zk.State) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case ev := <-events:
				if ev.State == want {
					return
				}
			case <-deadline:
				t.Fatalf("raw client: no %v", want)
			}
		}
	}
	waitRaw(zk.StateHasSession)
	if _, _, _, err := conn.ExistsW("/" + strings.Repeat("p", zkmirror.MaxPathLen)); err != nil {
		t.Fatal(err)
	}
	rawProxy.Cut()
	waitRaw(zk.StateDisconnected)
	waitRaw(zk.StateHasSession)
	waitRaw(zk.StateDisconnected) // dropped again: the SetWatches of one byte more did not fit
}

// Set and Create count path, data and ACL together against the packet limit: the largest
// request that fits succeeds, one byte more is refused locally with ErrDataTooLarge (and
// makes the server drop a raw client's connection), and the Mirror's connection never drops.
func TestRequestSizeBoundary(t *testing.T) {
	leaktest.Check(t)
	m := connect(t)
	ctx := ctxT(t, 60*time.Second)
	states := m.States(ctx)
	waitState(t, states, zkmirror.StateConnected)
	base := uniquePath(t)
	if _, err := mustNode(t, m, base).Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	name := base + "/" + strings.Repeat("n", 20000)
	n := mustNode(t, m, name)
	if _, err := n.Create(ctx, nil); err != nil {
		t.Fatal(err)
	}

	most := serverPacketLimit - setSize(name, 0)
	if most >= zkmirror.DefaultMaxDataSize {
		t.Fatalf("the packet limit must bind here: %d >= %d", most, zkmirror.DefaultMaxDataSize)
	}
	if _, err := n.Set(ctx, make([]byte, zkmirror.DefaultMaxDataSize), -1); !errors.Is(err, zkmirror.ErrDataTooLarge) {
		t.Fatalf("set of DefaultMaxDataSize on a long path: %v", err)
	}
	if _, err := n.Set(ctx, make([]byte, most+1), -1); !errors.Is(err, zkmirror.ErrDataTooLarge) {
		t.Fatalf("set of one byte more than fits: %v", err)
	}
	st, err := n.Set(ctx, make([]byte, most), -1)
	if err != nil {
		t.Fatalf("the largest set that fits: %v", err)
	}
	if v, err := n.Value(ctx); err != nil || len(v.Data) != most || v.Stat.Version != st.Version {
		t.Fatalf("after the set: %d bytes, %+v, %v", len(v.Data), v.Stat, err)
	}

	c := mustNode(t, m, base+"/"+strings.Repeat("c", 30000))
	mostCreate := serverPacketLimit - createSize(c.Path(), 0)
	if _, err := c.Create(ctx, make([]byte, mostCreate+1)); !errors.Is(err, zkmirror.ErrDataTooLarge) {
		t.Fatalf("create of one byte more than fits: %v", err)
	}
	if _, err := c.Create(ctx, make([]byte, mostCreate)); err != nil {
		t.Fatalf("the largest create that fits: %v", err)
	}
	if v, err := c.Value(ctx); err != nil || len(v.Data) != mostCreate {
		t.Fatalf("after the create: %d bytes, %v", len(v.Data), err)
	}
	// An ACL counts too.
	acl := append(zk.WorldACL(zk.PermAll), zk.DigestACL(zk.PermRead, "user", "secret")...)
	a := mustNode(t, m, base+"/acl")
	if _, err := a.Create(ctx, make([]byte, mostCreate+len(c.Path())-len(a.Path())), zkmirror.WithACL(acl...)); !errors.Is(err, zkmirror.ErrDataTooLarge) {
		t.Fatalf("create whose ACL does not fit: %v", err)
	}
	noSuspension(t, states)

	// The server's side of the boundary: one byte more drops the connection.
	raw := rawClient(t)
	if _, err := raw.Set(name, make([]byte, most+1), -1); !errors.Is(err, zk.ErrConnectionClosed) {
		t.Fatalf("raw set of one byte more than fits: %v", err)
	}
	raw2 := rawClient(t) // raw is reconnecting
	if _, err := raw2.Create(base+"/"+strings.Repeat("r", 30000), make([]byte, mostCreate+1), 0, worldACL); !errors.Is(err, zk.ErrConnectionClosed) {
		t.Fatalf("raw create of one byte more than fits: %v", err)
	}
	noSuspension(t, states)
}

// A TTL node on a server without extended types: ErrUnimplemented, with a text that says
// how to enable them.
func TestTTLWithoutExtendedTypes(t *testing.T) {
	leaktest.Check(t)
	c, err := zktest.StartStandalone(zktest.Options{JVMFlags: []string{"-Dzookeeper.extendedTypesEnabled=false"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := connectTo(t, c.Addrs())
	ctx := ctxT(t, 30*time.Second)
	n := mustNode(t, m, "/ttl")
	_, err = n.Create(ctx, nil, zkmirror.TTL(time.Hour))
	if !errors.Is(err, zkmirror.ErrUnimplemented) || !strings.Contains(err.Error(), "-Dzookeeper.extendedTypesEnabled=true") {
		t.Fatalf("TTL without extended types: %v", err)
	}
	if strings.Contains(err.Error(), "unknown error") || strings.Count(err.Error(), "zkmirror") != 1 {
		t.Fatalf("text: %q", err)
	}
	// The same create works on a server with them, up to the largest TTL.
	m2 := connect(t)
	p := uniquePath(t)
	if _, err := mustNode(t, m2, p).Create(ctx, nil, zkmirror.TTL(zkmirror.MaxTTL)); err != nil {
		t.Fatalf("TTL %v: %v", zkmirror.MaxTTL, err)
	}
	// The server refuses one millisecond more, and a TTL of 0.
	raw := rawClient(t)
	for _, d := range []time.Duration{zkmirror.MaxTTL + time.Millisecond, 0} {
		if _, err := raw.CreateTTL(p+"raw", nil, zk.FlagTTL, worldACL, d); !errors.Is(err, zk.ErrBadArguments) {
			t.Fatalf("raw TTL %v: %v", d, err)
		}
	}
	for _, d := range []time.Duration{zkmirror.MaxTTL + time.Millisecond, time.Millisecond - 1, -time.Second} {
		if _, err := mustNode(t, m2, p+"x").Create(ctx, nil, zkmirror.TTL(d)); !errors.Is(err, zkmirror.ErrInvalidArgument) {
			t.Fatalf("TTL %v: %v", d, err)
		}
	}
}

// The validator refuses exactly the names the server refuses. Each name is created with a
// raw Multi, which go-zookeeper does not check, so the verdict is the server's own.
func TestPathRulesMatchServer(t *testing.T) {
	leaktest.Check(t)
	m := connect(t)
	raw := rawClient(t)
	base := uniquePath(t)
	if _, err := raw.Create(base, nil, 0, worldACL); err != nil {
		t.Fatal(err)
	}
	names := []string{
		"a", ".", "..", "...", ".a", "a.", "..a", "a..", "", "a b", "-", "_c_x", "zookeeper",
		"\xff", "\xc0\x80", "\xed\xa0\x80", "\xed\xbf\xbf", "\xe2\x82", "\xf4\x90\x80\x80", "a\xffb",
	}
	// Every boundary of the server's ranges, and a sweep of the rest.
	for _, r := range []rune{0, 1, 0x1f, 0x20, 0x7e, 0x7f, 0x9f, 0xa0, 0xd7ff, 0xe000, 0xf000, 0xf8ff, 0xf900,
		0xfeff, 0xffef, 0xfff0, 0xfffd, 0xfffe, 0xffff, 0x10000, 0x1f600, 0x10ffff, '/' + 1, '.'} {
		names = append(names, "x"+string(r)+"y")
	}
	for r := rune(0x21); r < 0x10ffff; r += 0x1fd3 {
		if utf8.ValidRune(r) {
			names = append(names, string(r))
		}
	}
	var accepted, refused int
	for _, name := range names {
		p := base + "/" + name
		_, err := raw.Multi(&zk.CreateRequest{Path: p, Data: []byte{}, Acl: worldACL, Flags: 0})
		server := err == nil
		switch {
		case err == nil:
			accepted++
			if _, _, err := raw.Get(p); err != nil { // created under that very name
				t.Errorf("%q: created, then %v", name, err)
			}
		case errors.Is(err, zk.ErrBadArguments):
			refused++
		default:
			t.Fatalf("%q: the server said %v", name, err)
		}
		_, ours := m.Node(p)
		if (ours == nil) != server {
			t.Errorf("%q (%U): server accepts=%v, Node says %v", name, []rune(name), server, ours)
		}
		if ours != nil && !errors.Is(ours, zkmirror.ErrInvalidPath) {
			t.Errorf("%q: %v", name, ours)
		}
	}
	if accepted == 0 || refused == 0 {
		t.Fatalf("accepted %d, refused %d", accepted, refused)
	}
	// Whole paths: a trailing slash, an empty name. The server may look for the parent
	// first, which does not exist.
	for _, p := range []string{base + "/", base + "//a", base + "/a/"} {
		_, err := raw.Multi(&zk.CreateRequest{Path: p, Data: []byte{}, Acl: worldACL})
		if !errors.Is(err, zk.ErrBadArguments) && !errors.Is(err, zk.ErrNoNode) {
			t.Errorf("%q: the server said %v", p, err)
		}
		if _, err := m.Node(p); !errors.Is(err, zkmirror.ErrInvalidPath) {
			t.Errorf("Node(%q): %v", p, err)
		}
	}
}

// Error texts: one prefix, one cause, the sentinels still matching.
func TestErrorTexts(t *testing.T) {
	leaktest.Check(t)
	m := connect(t)
	missing := uniquePath(t)
	_, err := mustNode(t, m, missing).Value(ctxT(t, 10*time.Second))
	if want := "zkmirror: value " + missing + ": node does not exist"; err == nil || err.Error() != want {
		t.Fatalf("got %q, want %q", err, want)
	}
	if !errors.Is(err, zkmirror.ErrNoNode) || !errors.Is(err, zk.ErrNoNode) {
		t.Fatalf("%v does not match", err)
	}

	dead := connectTo(t, []string{deadPort(t)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = mustNode(t, dead, "/a").Value(ctx)
	if err == nil || err.Error() != "zkmirror: value /a: context canceled" {
		t.Fatalf("cancelled: %q", err)
	}
	if !errors.Is(err, zkmirror.ErrTimeout) || !errors.Is(err, context.Canceled) {
		t.Fatalf("%v does not match", err)
	}

	_, err = zkmirror.Connect([]string{"x:y"})
	if err == nil || err.Error() != `zkmirror: connect: bad server address "x:y": bad port` {
		t.Fatalf("bad address: %q", err)
	}
	if !errors.Is(err, zkmirror.ErrInvalidArgument) || !errors.Is(err, session.ErrBadServer) {
		t.Fatalf("%v does not match", err)
	}

	_, err = m.Node("/a//b")
	if err == nil || err.Error() != "zkmirror: invalid path /a//b: empty node name" {
		t.Fatalf("bad path: %q", err)
	}
}

// Ephemeral+Sequential makes a protected name; SequenceNumber reads the number from it, as
// from a plain sequential one.
func TestSequenceNumberOfCreated(t *testing.T) {
	leaktest.Check(t)
	m := connect(t)
	ctx := ctxT(t, 20*time.Second)
	base := uniquePath(t)
	if _, err := mustNode(t, m, base).Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	job := mustNode(t, m, base+"/job-")
	var last int64 = -1
	for i, opts := range [][]zkmirror.CreateOption{{zkmirror.Sequential()}, {zkmirror.Ephemeral(), zkmirror.Sequential()}, {zkmirror.Sequential()}} {
		p, err := job.Create(ctx, nil, opts...)
		if err != nil {
			t.Fatal(err)
		}
		n, ok := zkmirror.SequenceNumber(p)
		if !ok || n != int64(i) || n <= last {
			t.Fatalf("SequenceNumber(%q) = %d, %v", p, n, ok)
		}
		if len(opts) == 2 && !strings.HasPrefix(p, base+"/_c_") {
			t.Fatalf("protected name %q", p)
		}
		last = n
	}
}

// A Keep node is re-created with the data last set through the Mirror, by a Create, which
// carries more than a Set: a Set is refused unless that Create fits too.
func TestKeepSetCountsTheRecreate(t *testing.T) {
	leaktest.Check(t)
	m := connect(t)
	ctx := ctxT(t, 60*time.Second)
	states := m.States(ctx)
	waitState(t, states, zkmirror.StateConnected)
	base := uniquePath(t)
	if _, err := mustNode(t, m, base).Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	p := base + "/" + strings.Repeat("k", 20000)
	n := mustNode(t, m, p)
	if _, err := n.Create(ctx, nil, zkmirror.Keep()); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Set(ctx, make([]byte, serverPacketLimit-setSize(p, 0)), -1); !errors.Is(err, zkmirror.ErrDataTooLarge) {
		t.Fatalf("a set whose re-create would not fit: %v", err)
	}
	most := serverPacketLimit - createSize(p, 0)
	if _, err := n.Set(ctx, make([]byte, most), -1); err != nil {
		t.Fatalf("the largest set whose re-create fits: %v", err)
	}
	// Another client deletes it: the Mirror re-creates it with that data.
	ch := n.Watch(ctx)
	if v := recv(t, ch, 10*time.Second); len(v.Data) != most {
		t.Fatalf("before the delete: %d bytes", len(v.Data))
	}
	if err := rawClient(t).Delete(p, -1); err != nil {
		t.Fatal(err)
	}
	for {
		v := recv(t, ch, 20*time.Second)
		if v.Exists && v.Stat.EphemeralOwner != 0 && len(v.Data) == most && v.Stat.Version == 0 {
			break
		}
	}
	noSuspension(t, states)
}

// wireLog is a net.Conn that records the length of every packet written through it.
type wireLog struct {
	net.Conn
	mu      *sync.Mutex
	pending []byte
	sizes   *[]int
}

func (w *wireLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.pending = append(w.pending, p...)
	for len(w.pending) >= 4 {
		n := int(binary.BigEndian.Uint32(w.pending))
		if len(w.pending) < 4+n {
			break
		}
		*w.sizes = append(*w.sizes, n)
		w.pending = w.pending[4+n:]
	}
	w.mu.Unlock()
	return w.Conn.Write(p)
}

// The sizes the Mirror computes for its requests are those go-zookeeper writes.
func TestRequestSizesMatchWire(t *testing.T) {
	leaktest.Check(t)
	var mu sync.Mutex
	var sizes []int
	written := func(want int) bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(sizes, want)
	}
	dial := func(network, address string, timeout time.Duration) (net.Conn, error) {
		c, err := net.DialTimeout(network, address, timeout)
		if err != nil {
			return nil, err
		}
		return &wireLog{Conn: c, mu: &mu, sizes: &sizes}, nil
	}
	secret := strings.Repeat("s", 7001)
	m := connect(t, zkmirror.WithDialer(dial), zkmirror.WithAuth("digest", []byte("user:"+secret)))
	ctx := ctxT(t, 30*time.Second)
	base := uniquePath(t)
	if _, err := mustNode(t, m, base).Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if want := zkmirror.AuthRequestSize("digest", len("user:"+secret)); !written(want) {
		t.Errorf("no auth request of %d bytes in %v", want, sizes)
	}
	acl := append(zk.WorldACL(zk.PermAll), zk.DigestACL(zk.PermRead, "user", secret)...)
	for i, tc := range []struct {
		name string
		opts []zkmirror.CreateOption
	}{
		{"plain", nil},
		{"ephemeral", []zkmirror.CreateOption{zkmirror.Ephemeral()}},
		{"sequential", []zkmirror.CreateOption{zkmirror.Sequential()}},
		{"protected", []zkmirror.CreateOption{zkmirror.Ephemeral(), zkmirror.Sequential()}},
		{"container", []zkmirror.CreateOption{zkmirror.Container()}},
		{"ttl", []zkmirror.CreateOption{zkmirror.TTL(time.Hour)}},
		{"acl", []zkmirror.CreateOption{zkmirror.WithACL(acl...)}},
	} {
		p := base + "/" + tc.name
		data := 10007 * (i + 1)
		created, err := mustNode(t, m, p).Create(ctx, make([]byte, data), tc.opts...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var a []zk.ACL
		if tc.name == "acl" {
			a = acl
		}
		if want := zkmirror.CreateRequestSize(p, data, a, tc.opts...); !written(want) {
			t.Errorf("%s: no create request of %d bytes in %v", tc.name, want, sizes)
		}
		if _, err := mustNode(t, m, created).Set(ctx, make([]byte, data+1), -1); err != nil {
			t.Fatalf("%s: set: %v", tc.name, err)
		}
		if want := zkmirror.SetRequestSize(created, data+1); !written(want) {
			t.Errorf("%s: no set request of %d bytes in %v", tc.name, want, sizes)
		}
	}
}
