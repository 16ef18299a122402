package zkmirror_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/leaktest"
)

func TestValueExistingAndMissing(t *testing.T) {
	leaktest.Check(t)
	m := connect(t)
	p := uniquePath(t)
	raw := rawClient(t)
	if _, err := raw.Create(p, []byte("hello"), 0, worldACL); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Create(p+"/b", nil, 0, worldACL); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Create(p+"/a", nil, 0, worldACL); err != nil {
		t.Fatal(err)
	}
	n := mustNode(t, m, p)
	v, err := n.Value(ctxT(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if string(v.Data) != "hello" || !v.Exists || v.Path != p || v.Stat.Czxid == 0 || v.Stat.NumChildren != 2 {
		t.Fatalf("got %+v", v)
	}
	c, err := n.Children(ctxT(t, 10*time.Second))
	if err != nil || !slices.Equal(c.Names, []string{"a", "b"}) || !c.Exists || c.Path != p {
		t.Fatalf("children: %+v %v", c, err)
	}

	missing := mustNode(t, m, p+"/nope")
	v, err = missing.Value(ctxT(t, 10*time.Second))
	if !errors.Is(err, zkmirror.ErrNoNode) || !errors.Is(err, zk.ErrNoNode) || v.Exists {
		t.Fatalf("missing value: %+v %v", v, err)
	}
	c, err = missing.Children(ctxT(t, 10*time.Second))
	if !errors.Is(err, zkmirror.ErrNoNode) || c.Exists {
		t.Fatalf("missing children: %+v %v", c, err)
	}
	// A missing node's Watch sends Exists=false first, then its creation.
	ch := missing.Watch(ctxT(t, 10*time.Second))
	if v := recv(t, ch, 10*time.Second); v.Exists {
		t.Fatalf("first snapshot of a missing node: %+v", v)
	}
	if _, err := raw.Create(p+"/nope", []byte("now"), 0, worldACL); err != nil {
		t.Fatal(err)
	}
	if v := recv(t, ch, 10*time.Second); !v.Exists || string(v.Data) != "now" {
		t.Fatalf("creation: %+v", v)
	}
}

func TestTimeoutBeforeFirstContactThenSuccess(t *testing.T) {
	leaktest.Check(t)
	p := uniquePath(t)
	raw := rawClient(t)
	if _, err := raw.Create(p, []byte("x"), 0, worldACL); err != nil {
		t.Fatal(err)
	}
	proxy := newProxy(t, zkc.Addrs()[0])
	proxy.Blackhole(0) // accept, forward nothing
	m := connectTo(t, []string{proxy.Addr()}, zkmirror.WithSessionTimeout(2*time.Second))
	n := mustNode(t, m, p)
	start := time.Now()
	_, err := n.Value(ctxT(t, 700*time.Millisecond))
	if !errors.Is(err, zkmirror.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want ErrTimeout matching the ctx error, got %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("Value did not return at its deadline: %v", time.Since(start))
	}
	if _, err := n.Set(ctxT(t, 300*time.Millisecond), []byte("y"), -1); !errors.Is(err, zkmirror.ErrTimeout) {
		t.Fatalf("Set without a session: %v", err)
	}
	if m.State() != zkmirror.StateConnecting {
		t.Fatalf("state %v, want Connecting", m.State())
	}
	proxy.Restore()
	v, err := n.Value(ctxT(t, 20*time.Second))
	if err != nil || string(v.Data) != "x" {
		t.Fatalf("after the server became reachable: %+v %v", v, err)
	}
	if m.State() != zkmirror.StateConnected {
		t.Fatalf("state %v", m.State())
	}
}

func TestTimeoutDeadPort(t *testing.T) {
	leaktest.Check(t)
	ln := deadPort(t)
	m := connectTo(t, []string{ln}, zkmirror.WithSessionTimeout(2*time.Second))
	n := mustNode(t, m, "/x")
	if _, err := n.Value(ctxT(t, 500*time.Millisecond)); !errors.Is(err, zkmirror.ErrTimeout) {
		t.Fatalf("dead port: %v", err)
	}
	if _, err := n.Children(ctxT(t, 200*time.Millisecond)); !errors.Is(err, zkmirror.ErrTimeout) {
		t.Fatalf("dead port children: %v", err)
	}
	if !m.DisconnectedSince().IsZero() && m.State() != zkmirror.StateConnecting {
		t.Fatalf("state %v", m.State())
	}
}

func TestWritesAndVersions(t *testing.T) {
	leaktest.Check(t)
	m := connect(t)
	p := uniquePath(t)
	n := mustNode(t, m, p)
	ctx := ctxT(t, 20*time.Second)

	created, err := n.Create(ctx, nil)
	if err != nil || created != p {
		t.Fatalf("create: %q %v", created, err)
	}
	v, err := n.Value(ctx)
	if err != nil || len(v.Data) != 0 || v.Data == nil || v.Stat.Version != 0 {
		t.Fatalf("nil data must be empty data: %+v %v", v, err)
	}
	if _, err := n.Create(ctx, []byte("again")); !errors.Is(err, zkmirror.ErrNodeExists) || !errors.Is(err, zk.ErrNodeExists) {
		t.Fatalf("second create: %v", err)
	}
	st, err := n.Set(ctx, []byte("v1"), 0)
	if err != nil || st.Version != 1 {
		t.Fatalf("set v0: %+v %v", st, err)
	}
	// Read your writes: Value reflects the Set as soon as it returns.
	if v, _ := n.Value(ctx); string(v.Data) != "v1" || v.Stat.Version != 1 {
		t.Fatalf("after set: %+v", v)
	}
	if _, err := n.Set(ctx, []byte("stale"), 0); !errors.Is(err, zkmirror.ErrBadVersion) || !errors.Is(err, zk.ErrBadVersion) {
		t.Fatalf("set with a stale version: %v", err)
	}
	if _, err := n.Set(ctx, []byte("any"), -1); err != nil {
		t.Fatalf("set any: %v", err)
	}
	if _, err := n.Set(ctx, []byte("x"), -2); !errors.Is(err, zkmirror.ErrInvalidArgument) {
		t.Fatalf("version -2: %v", err)
	}
	if err := n.Delete(ctx, -5); !errors.Is(err, zkmirror.ErrInvalidArgument) {
		t.Fatalf("delete version -5: %v", err)
	}
	big := bytes.Repeat([]byte("x"), zkmirror.DefaultMaxDataSize+1)
	if _, err := n.Set(ctx, big, -1); !errors.Is(err, zkmirror.ErrDataTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	if _, err := n.Set(ctx, big[:zkmirror.DefaultMaxDataSize], -1); err != nil {
		t.Fatalf("largest allowed data: %v", err)
	}
	if v, _ := n.Value(ctx); len(v.Data) != zkmirror.DefaultMaxDataSize {
		t.Fatalf("large value read back: %d bytes", len(v.Data))
	}

	child := mustNode(t, m, p+"/c")
	if _, err := child.Create(ctx, []byte("c")); err != nil {
		t.Fatal(err)
	}
	if c, err := n.Children(ctx); err != nil || !slices.Equal(c.Names, []string{"c"}) {
		t.Fatalf("children after create: %+v %v", c, err)
	}
	if err := n.Delete(ctx, -1); !errors.Is(err, zkmirror.ErrNotEmpty) {
		t.Fatalf("delete with children: %v", err)
	}
	if err := child.Delete(ctx, 7); !errors.Is(err, zkmirror.ErrBadVersion) {
		t.Fatalf("delete bad version: %v", err)
	}
	if err := child.Delete(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if c, err := n.Children(ctx); err != nil || len(c.Names) != 0 {
		t.Fatalf("children after delete: %+v %v", c, err)
	}
	cur, _ := n.Value(ctx)
	if err := n.Delete(ctx, cur.Stat.Version); err != nil {
		t.Fatal(err)
	}
	// Read your writes for Delete.
	if _, err := n.Value(ctx); !errors.Is(err, zkmirror.ErrNoNode) {
		t.Fatalf("after delete: %v", err)
	}
	if err := n.Delete(ctx, -1); !errors.Is(err, zkmirror.ErrNoNode) {
		t.Fatalf("delete missing: %v", err)
	}
	if _, err := n.Set(ctx, []byte("x"), -1); !errors.Is(err, zkmirror.ErrNoNode) {
		t.Fatalf("set missing: %v", err)
	}
}

func TestMaxDataSizeOption(t *testing.T) {
	leaktest.Check(t)
	m := connect(t, zkmirror.WithMaxDataSize(10))
	n := mustNode(t, m, uniquePath(t))
	ctx := ctxT(t, 10*time.Second)
	if _, err := n.Create(ctx, make([]byte, 11)); !errors.Is(err, zkmirror.ErrDataTooLarge) {
		t.Fatalf("create 11 bytes with a limit of 10: %v", err)
	}
	if _, err := n.Create(ctx, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	if _, err := zkmirror.Connect(zkc.Addrs(), zkmirror.WithMaxDataSize(0)); !errors.Is(err, zkmirror.ErrInvalidArgument) {
		t.Fatalf("max data size 0: %v", err)
	}
}

// TestLifecycleOrder: channels and watchers see create → set → delete → re-create in order,
// and the re-create is told apart from the first incarnation at the same Version.
func TestLifecycleOrder(t *testing.T) {
	leaktest.Check(t)
	m := connect(t)
	p := uniquePath(t)
	raw := rawClient(t)
	n := mustNode(t, m, p)
	ch := n.Watch(ctxT(t, 30*time.Second))

	var mu sync.Mutex
	var seen []zkmirror.Value
	n.AddValueWatcher("w", func(v zkmirror.Value) {
		mu.Lock()
		seen = append(seen, v)
		mu.Unlock()
	})
	watcherSaw := func(pred func(zkmirror.Value) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			ok := len(seen) > 0 && pred(seen[len(seen)-1])
			mu.Unlock()
			if ok {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("watcher did not see the expected state; saw %+v", seen)
	}

	first := recv(t, ch, 10*time.Second)
	if first.Exists {
		t.Fatalf("first: %+v", first)
	}
	watcherSaw(func(v zkmirror.Value) bool { return !v.Exists })

	if _, err := raw.Create(p, []byte("one"), 0, worldACL); err != nil {
		t.Fatal(err)
	}
	created := recv(t, ch, 10*time.Second)
	if !created.Exists || string(created.Data) != "one" || created.Stat.Version != 0 {
		t.Fatalf("created: %+v", created)
	}
	watcherSaw(func(v zkmirror.Value) bool { return v.Exists && string(v.Data) == "one" })

	if _, err := raw.Set(p, []byte("two"), 0); err != nil {
		t.Fatal(err)
	}
	set := recv(t, ch, 10*time.Second)
	if string(set.Data) != "two" || set.Stat.Version != 1 {
		t.Fatalf("set: %+v", set)
	}
	watcherSaw(func(v zkmirror.Value) bool { return string(v.Data) == "two" })

	if err := raw.Delete(p, 1); err != nil {
		t.Fatal(err)
	}
	deleted := recv(t, ch, 10*time.Second)
	if deleted.Exists {
		t.Fatalf("deleted: %+v", deleted)
	}
	watcherSaw(func(v zkmirror.Value) bool { return !v.Exists })

	if _, err := raw.Create(p, []byte("one"), 0, worldACL); err != nil {
		t.Fatal(err)
	}
	again := recv(t, ch, 10*time.Second)
	if !again.Exists || again.Stat.Version != created.Stat.Version || string(again.Data) != "one" {
		t.Fatalf("re-created: %+v", again)
	}
	if again.Stat.Czxid <= created.Stat.Czxid {
		t.Fatalf("re-creation not told apart: czxid %d then %d", created.Stat.Czxid, again.Stat.Czxid)
	}
	watcherSaw(func(v zkmirror.Value) bool { return v.Exists && v.Stat.Czxid == again.Stat.Czxid })

	// The watcher saw the states in order, each newer than the last.
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(seen); i++ {
		a, b := seen[i-1], seen[i]
		if a.Exists && b.Exists && (b.Stat.Czxid < a.Stat.Czxid || (b.Stat.Czxid == a.Stat.Czxid && b.Stat.Mzxid <= a.Stat.Mzxid)) {
			t.Fatalf("watcher went back: %+v then %+v", a, b)
		}
	}
}

// TestFanOutOneWatch: 1,000 subscribers on one node cost one ZooKeeper watch, one re-read
// per change and no goroutine each.
func TestFanOutOneWatch(t *testing.T) {
	leaktest.Check(t)
	m := connect(t)
	p := uniquePath(t)
	raw := rawClient(t)
	if _, err := raw.Create(p, []byte("0"), 0, worldACL); err != nil {
		t.Fatal(err)
	}
	base := serverWatches(t)
	n := mustNode(t, m, p)
	if _, err := n.Value(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	watchesBefore := serverWatches(t)
	if watchesBefore != base+1 {
		t.Fatalf("the first handle set %d data watches", watchesBefore-base)
	}
	goroutinesBefore := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const subs = 1000
	chans := make([]<-chan zkmirror.Value, subs)
	for i := range chans {
		h := mustNode(t, m, p) // a handle each, to show handles share the watch too
		chans[i] = h.Watch(ctx)
	}
	for _, ch := range chans {
		recv(t, ch, 10*time.Second)
	}
	if d := runtime.NumGoroutine() - goroutinesBefore; d > 20 {
		t.Fatalf("%d subscribers added %d goroutines", subs, d)
	}
	if w := serverWatches(t); w != watchesBefore {
		t.Fatalf("server watches went from %d to %d with %d subscribers", watchesBefore, w, subs)
	}
	reads := m.Stats().Reads
	before := srvr(t)
	for i := 1; i <= 3; i++ {
		if _, err := raw.Set(p, []byte(fmt.Sprint(i)), -1); err != nil {
			t.Fatal(err)
		}
		for j, ch := range chans {
			v := recv(t, ch, 10*time.Second)
			if string(v.Data) != fmt.Sprint(i) {
				t.Fatalf("subscriber %d got %q after set %d", j, v.Data, i)
			}
		}
	}
	after := srvr(t)
	if got := m.Stats().Reads - reads; got != 3 {
		t.Fatalf("3 changes cost %d re-reads, want 3", got)
	}
	// Server side: 3 sets and 3 re-reads, plus pings and the srvr command's own connection.
	if got := after.Received - before.Received; got > 3+3+6 {
		t.Fatalf("server received %d packets for 3 changes", got)
	}
	if w := serverWatches(t); w != watchesBefore {
		t.Fatalf("server watches %d, want %d", w, watchesBefore)
	}
}

// TestSlowSubscriber: a subscriber that never reads delays no one, and when it reads it gets
// the latest state, not a backlog.
func TestSlowSubscriber(t *testing.T) {
	leaktest.Check(t)
	m := connect(t)
	p := uniquePath(t)
	raw := rawClient(t)
	if _, err := raw.Create(p, []byte("0"), 0, worldACL); err != nil {
		t.Fatal(err)
	}
	n := mustNode(t, m, p)
	ctx := ctxT(t, 30*time.Second)
	slow := n.Watch(ctx)
	fast := n.Watch(ctx)
	recv(t, fast, 10*time.Second)
	const sets = 30
	for i := 1; i <= sets; i++ {
		if _, err := raw.Set(p, []byte(fmt.Sprint(i)), -1); err != nil {
			t.Fatal(err)
		}
		for {
			v := recv(t, fast, 10*time.Second)
			if v.Stat.Version == int32(i) {
				break
			}
		}
	}
	v := recv(t, slow, time.Second)
	if v.Stat.Version != sets || string(v.Data) != fmt.Sprint(sets) {
		t.Fatalf("slow subscriber got %+v, want the latest (version %d)", v, sets)
	}
	select {
	case v := <-slow:
		t.Fatalf("backlog: %+v", v)
	case <-time.After(100 * time.Millisecond):
	}
	if m.Stats().Conflated == 0 {
		t.Fatal("no conflation counted")
	}
}

// TestValueFromMirror: once a path had first contact, Value makes no request.
func TestValueFromMirror(t *testing.T) {
	leaktest.Check(t)
	m := connect(t)
	p := uniquePath(t)
	raw := rawClient(t)
	if _, err := raw.Create(p, []byte("x"), 0, worldACL); err != nil {
		t.Fatal(err)
	}
	n := mustNode(t, m, p)
	ctx := ctxT(t, 10*time.Second)
	if _, err := n.Value(ctx); err != nil {
		t.Fatal(err)
	}
	reads := m.Stats().Reads
	before := srvr(t)
	for range 1000 {
		if _, err := n.Value(ctx); err != nil {
			t.Fatal(err)
		}
	}
	after := srvr(t)
	if m.Stats().Reads != reads {
		t.Fatal("Value issued reads")
	}
	if d := after.Received - before.Received; d > 4 { // pings and srvr only
		t.Fatalf("1000 Value calls: server received %d packets", d)
	}
}

func TestSubscribeCancelCycles(t *testing.T) {
	leaktest.Check(t)
	m := connect(t)
	p := uniquePath(t)
	n := mustNode(t, m, p)
	if _, err := n.Create(ctxT(t, 10*time.Second), []byte("x")); err != nil {
		t.Fatal(err)
	}
	base := runtime.NumGoroutine()
	for range 1000 {
		ctx, cancel := context.WithCancel(context.Background())
		ch := n.Watch(ctx)
		recv(t, ch, 5*time.Second)
		cancel()
		drainClosed(t, ch) // closes once the cancellation is seen
	}
	for range 1000 {
		h := mustNode(t, m, p)
		ch := h.Watch(context.Background())
		h.AddValueWatcher("x", func(zkmirror.Value) {})
		h.Close()
		drainClosed(t, ch)
	}
	time.Sleep(50 * time.Millisecond)
	if d := runtime.NumGoroutine() - base; d > 5 {
		t.Fatalf("%d goroutines left after 2000 cycles", d)
	}
}

func TestDisconnectKeepsWatches(t *testing.T) {
	leaktest.Check(t)
	p := uniquePath(t)
	raw := rawClient(t)
	if _, err := raw.Create(p, []byte("before"), 0, worldACL); err != nil {
		t.Fatal(err)
	}
	proxy := newProxy(t, zkc.Addrs()[0])
	m := connectTo(t, []string{proxy.Addr()}, zkmirror.WithSessionTimeout(8*time.Second))
	states := m.States(ctxT(t, 60*time.Second))
	n := mustNode(t, m, p)
	ch := n.Watch(ctxT(t, 60*time.Second))
	if v := recv(t, ch, 10*time.Second); string(v.Data) != "before" {
		t.Fatalf("%+v", v)
	}
	waitState(t, states, zkmirror.StateConnected)
	reads := m.Stats().Reads

	proxy.Blackhole(0)
	proxy.Cut()
	waitState(t, states, zkmirror.StateSuspended)
	if m.DisconnectedSince().IsZero() {
		t.Fatal("DisconnectedSince is zero while suspended")
	}
	// Snapshots keep the last known state while suspended.
	if v, err := n.Value(ctxT(t, time.Second)); err != nil || string(v.Data) != "before" {
		t.Fatalf("while suspended: %+v %v", v, err)
	}
	if _, err := raw.Set(p, []byte("meanwhile"), -1); err != nil {
		t.Fatal(err)
	}
	proxy.Restore()
	waitState(t, states, zkmirror.StateConnected)
	if v := recv(t, ch, 15*time.Second); string(v.Data) != "meanwhile" || v.Resync {
		t.Fatalf("after reconnect: %+v", v)
	}
	if got := m.Stats().Reads - reads; got != 1 {
		t.Fatalf("reconnect within the session cost %d reads, want 1 (the changed path)", got)
	}
	if m.Stats().Resyncs != 0 {
		t.Fatal("a disconnect within the session must not resync")
	}
	if !m.DisconnectedSince().IsZero() {
		t.Fatal("DisconnectedSince not zero after reconnect")
	}
}

func TestCloseEndsEverything(t *testing.T) {
	leaktest.Check(t)
	m, err := zkmirror.Connect(zkc.Addrs())
	if err != nil {
		t.Fatal(err)
	}
	p := uniquePath(t)
	n, _ := m.Node(p)
	ctx := ctxT(t, 10*time.Second)
	if _, err := n.Create(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	chans := []<-chan zkmirror.Value{n.Watch(context.Background()), n.Watch(context.Background())}
	kids := n.WatchChildren(context.Background())
	states := m.States(context.Background())
	n.AddValueWatcher("w", func(zkmirror.Value) {})
	if _, err := n.Value(ctx); err != nil {
		t.Fatal(err)
	}
	tr, err := m.Tree(p)
	if err != nil {
		t.Fatal(err)
	}
	events := tr.Events(context.Background())
	if err := tr.Synced(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	// Contract 12: the Mirror's goroutines, checked at the instant Close returns (goleak's
	// retries would give a late one time to end); go-zookeeper's, told to stop, are left to
	// leaktest.Check, whose retries give them the moments they take to return.
	if g := leaktest.Running("github.com/zkmirror/zkmirror", "github.com/zkmirror/zkmirror/session"); len(g) > 0 {
		t.Fatalf("%d goroutines of the Mirror still running when Close returned:\n%s", len(g), strings.Join(g, "\n\n"))
	}
	drainClosed(t, events)
	for _, ch := range chans {
		drainClosed(t, ch)
	}
	drainClosed(t, kids)
	var last zkmirror.State
	deadline := time.After(5 * time.Second)
	for open := true; open; {
		select {
		case st, ok := <-states:
			if ok {
				last = st
			}
			open = ok
		case <-deadline:
			t.Fatal("States not closed after Close")
		}
	}
	if last != zkmirror.StateClosed {
		t.Fatalf("last state %v", last)
	}
	if m.Close() != nil {
		t.Fatal("second Close")
	}
	if _, err := n.Value(ctx); !errors.Is(err, zkmirror.ErrClosed) {
		t.Fatalf("Value after Close: %v", err)
	}
	if _, err := n.Set(ctx, nil, -1); !errors.Is(err, zkmirror.ErrClosed) {
		t.Fatalf("Set after Close: %v", err)
	}
	if _, err := m.Node("/x"); !errors.Is(err, zkmirror.ErrClosed) {
		t.Fatalf("Node after Close: %v", err)
	}
	if ch := n.Watch(context.Background()); !isClosed(ch) {
		t.Fatal("Watch after Close returned an open channel")
	}
	if m.State() != zkmirror.StateClosed {
		t.Fatalf("state %v", m.State())
	}
}

func TestNodeCloseKeepsOthers(t *testing.T) {
	leaktest.Check(t)
	m := connect(t)
	p := uniquePath(t)
	a := mustNode(t, m, p)
	b := mustNode(t, m, p)
	ctx := ctxT(t, 10*time.Second)
	if _, err := a.Create(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	ca, cb := a.Watch(ctx), b.Watch(ctx)
	recv(t, ca, 5*time.Second)
	recv(t, cb, 5*time.Second)
	if st := m.Stats(); st.Paths != 1 || st.Watches != 1 {
		t.Fatalf("stats %+v", st)
	}
	a.Close()
	drainClosed(t, ca)
	if _, err := a.Value(ctx); !errors.Is(err, zkmirror.ErrClosed) {
		t.Fatalf("closed handle: %v", err)
	}
	if _, err := b.Set(ctx, []byte("y"), -1); err != nil {
		t.Fatal(err)
	}
	if v := recv(t, cb, 5*time.Second); string(v.Data) != "y" {
		t.Fatalf("%+v", v)
	}
	b.Close()
	drainClosed(t, cb)
	if st := m.Stats(); st.Paths != 0 || st.Watches != 0 {
		t.Fatalf("path not freed: %+v", st)
	}
}

func TestWatchers(t *testing.T) {
	leaktest.Check(t)
	var logs lockedBuffer
	m := connect(t, zkmirror.WithLogger(newLogger(&logs)))
	p := uniquePath(t)
	n := mustNode(t, m, p)
	ctx := ctxT(t, 10*time.Second)
	if _, err := n.Create(ctx, []byte("a")); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 100)
	n.AddValueWatcher("panics", func(v zkmirror.Value) { panic("boom " + string(v.Data)) })
	n.AddValueWatcher("w", func(v zkmirror.Value) { got <- "first:" + string(v.Data) })
	if s := recv(t, got, 5*time.Second); s != "first:a" {
		t.Fatal(s)
	}
	// Same id replaces.
	n.AddValueWatcher("w", func(v zkmirror.Value) { got <- "second:" + string(v.Data) })
	if s := recv(t, got, 5*time.Second); s != "second:a" {
		t.Fatal(s)
	}
	kids := make(chan []string, 100)
	n.AddChildWatcher("c", func(c zkmirror.Children) { kids <- c.Names })
	recv(t, kids, 5*time.Second)
	if _, err := n.Set(ctx, []byte("b"), -1); err != nil {
		t.Fatal(err)
	}
	if s := recv(t, got, 5*time.Second); s != "second:b" {
		t.Fatal(s)
	}
	child := mustNode(t, m, p+"/k")
	if _, err := child.Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if names := recv(t, kids, 5*time.Second); !slices.Equal(names, []string{"k"}) {
		t.Fatal(names)
	}
	n.RemoveValueWatcher("w")
	if _, err := n.Set(ctx, []byte("c"), -1); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		t.Fatalf("removed watcher called: %s", s)
	case <-time.After(200 * time.Millisecond):
	}
	if !strings.Contains(logs.String(), "boom") {
		t.Fatalf("the panic was not logged: %s", logs.String())
	}
}

func TestInvalidPaths(t *testing.T) {
	leaktest.Check(t)
	m := connect(t)
	for _, p := range []string{"", "a", "/a/", "/a//b", "/a/./b", "/a/../b", "/.", "/a\x00b", "/a\x01", "/\u0080", "/\uf000", "/\ufff5", "/a\xffb", "//"} {
		if _, err := m.Node(p); !errors.Is(err, zkmirror.ErrInvalidPath) {
			t.Errorf("Node(%q): %v", p, err)
		}
	}
	for _, p := range []string{"/", "/a", "/a/b", "/a.b", "/..a", "/a/...", "/zookeeper", "/ü/名前"} {
		if _, err := m.Node(p); err != nil {
			t.Errorf("Node(%q): %v", p, err)
		}
	}
}

func TestNoAuthNode(t *testing.T) {
	leaktest.Check(t)
	p := uniquePath(t)
	raw := rawClient(t)
	if err := raw.AddAuth("digest", []byte("alice:secret")); err != nil {
		t.Fatal(err)
	}
	acl := zk.DigestACL(zk.PermAll, "alice", "secret")
	if _, err := raw.Create(p, []byte("private"), 0, acl); err != nil {
		t.Fatal(err)
	}
	m := connect(t)
	n := mustNode(t, m, p)
	ctx := ctxT(t, 30*time.Second)
	v, err := n.Value(ctx)
	if !errors.Is(err, zkmirror.ErrNoAuth) || !errors.Is(v.Err, zkmirror.ErrNoAuth) || !v.Exists || v.Data != nil {
		t.Fatalf("no auth: %+v %v", v, err)
	}
	// It does not spin.
	reads := m.Stats().Reads
	time.Sleep(500 * time.Millisecond)
	if d := m.Stats().Reads - reads; d > 0 {
		t.Fatalf("%d reads while nothing changed", d)
	}
	// ZooKeeper sends no watch event to a client without read permission; the mirror reads
	// such a path again on a slow timer, so a change is still seen, still with ErrNoAuth.
	ch := n.Watch(ctx)
	recv(t, ch, 5*time.Second)
	if _, err := raw.Set(p, []byte("private2"), -1); err != nil {
		t.Fatal(err)
	}
	if v := recv(t, ch, 8*time.Second); v.Stat.Version != 1 || !errors.Is(v.Err, zkmirror.ErrNoAuth) {
		t.Fatalf("%+v", v)
	}

	// With the credential, the same node reads fine.
	m2 := connect(t, zkmirror.WithAuth("digest", []byte("alice:secret")))
	n2 := mustNode(t, m2, p)
	v, err = n2.Value(ctxT(t, 10*time.Second))
	if err != nil || string(v.Data) != "private2" {
		t.Fatalf("with auth: %+v %v", v, err)
	}
	if _, err := n2.Set(ctx, []byte("mine"), -1); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Set(ctx, []byte("theirs"), -1); !errors.Is(err, zkmirror.ErrNoAuth) {
		t.Fatalf("set without auth: %v", err)
	}
}

func TestCreateOptions(t *testing.T) {
	leaktest.Check(t)
	m := connect(t)
	base := uniquePath(t)
	ctx := ctxT(t, 20*time.Second)
	root := mustNode(t, m, base)
	if _, err := root.Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	raw := rawClient(t)

	eph := mustNode(t, m, base+"/eph")
	if _, err := eph.Create(ctx, []byte("e"), zkmirror.Ephemeral()); err != nil {
		t.Fatal(err)
	}
	if v, _ := eph.Value(ctx); v.Stat.EphemeralOwner == 0 {
		t.Fatalf("not ephemeral: %+v", v)
	}

	seq := mustNode(t, m, base+"/seq-")
	p1, err := seq.Create(ctx, nil, zkmirror.Sequential())
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := seq.Create(ctx, nil, zkmirror.Sequential())
	if !strings.HasPrefix(p1, base+"/seq-") || p2 <= p1 {
		t.Fatalf("sequential: %q %q", p1, p2)
	}

	pes := mustNode(t, m, base+"/member-")
	p3, err := pes.Create(ctx, []byte("m"), zkmirror.Ephemeral(), zkmirror.Sequential())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p3, "_c_") || !strings.Contains(p3, "-member-") {
		t.Fatalf("protected create path %q", p3)
	}
	if _, st, err := raw.Get(p3); err != nil || st.EphemeralOwner == 0 {
		t.Fatalf("protected node: %+v %v", st, err)
	}

	cont := mustNode(t, m, base+"/container")
	if _, err := cont.Create(ctx, nil, zkmirror.Container()); err != nil {
		t.Fatal(err)
	}
	ttl := mustNode(t, m, base+"/ttl")
	if _, err := ttl.Create(ctx, nil, zkmirror.TTL(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if v, err := ttl.Value(ctx); err != nil || !v.Exists {
		t.Fatalf("ttl: %+v %v", v, err)
	}

	acl := mustNode(t, m, base+"/acl")
	if _, err := acl.Create(ctx, nil, zkmirror.WithACL(zk.WorldACL(zk.PermRead)...)); err != nil {
		t.Fatal(err)
	}
	if _, err := acl.Set(ctx, []byte("x"), -1); !errors.Is(err, zkmirror.ErrNoAuth) {
		t.Fatalf("read-only ACL: %v", err)
	}

	bad := mustNode(t, m, base+"/bad")
	for name, opts := range map[string][]zkmirror.CreateOption{
		"keep+sequential":     {zkmirror.Keep(), zkmirror.Sequential()},
		"container+ephemeral": {zkmirror.Container(), zkmirror.Ephemeral()},
		"ttl+ephemeral":       {zkmirror.TTL(time.Minute), zkmirror.Ephemeral()},
		"ttl 0":               {zkmirror.TTL(0)},
	} {
		if _, err := bad.Create(ctx, nil, opts...); !errors.Is(err, zkmirror.ErrInvalidArgument) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := mustNode(t, m, base+"/no/parent").Create(ctx, nil); !errors.Is(err, zkmirror.ErrNoNode) {
		t.Fatalf("missing parent: %v", err)
	}
}

func TestChroot(t *testing.T) {
	leaktest.Check(t)
	base := uniquePath(t)
	raw := rawClient(t)
	if _, err := raw.Create(base, nil, 0, worldACL); err != nil {
		t.Fatal(err)
	}
	m := connect(t, zkmirror.WithChroot(base))
	n := mustNode(t, m, "/a")
	ctx := ctxT(t, 10*time.Second)
	p, err := n.Create(ctx, []byte("x"))
	if err != nil || p != "/a" {
		t.Fatalf("%q %v", p, err)
	}
	if data, _, err := raw.Get(base + "/a"); err != nil || string(data) != "x" {
		t.Fatalf("server: %q %v", data, err)
	}
	rootKids, err := mustNode(t, m, "/").Children(ctx)
	if err != nil || !slices.Equal(rootKids.Names, []string{"a"}) || rootKids.Path != "/" {
		t.Fatalf("chroot root: %+v %v", rootKids, err)
	}
	ch := n.Watch(ctx)
	recv(t, ch, 5*time.Second)
	if _, err := raw.Set(base+"/a", []byte("y"), -1); err != nil {
		t.Fatal(err)
	}
	if v := recv(t, ch, 5*time.Second); string(v.Data) != "y" || v.Path != "/a" {
		t.Fatalf("%+v", v)
	}
	// A Tree under the chroot: paths as the Mirror's users see them.
	tr, err := m.Tree("/")
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Synced(ctx); err != nil {
		t.Fatal(err)
	}
	if v, ok := tr.Get("/a"); !ok || string(v.Data) != "y" || v.Path != "/a" {
		t.Fatalf("tree under the chroot: %+v %v", v, ok)
	}
	for _, bad := range []string{"", "a"} { // would name the chroot itself, or chroot+"a"
		if v, ok := tr.Get(bad); ok {
			t.Fatalf("Get(%q) found %+v", bad, v)
		}
	}
	if _, err := zkmirror.Connect(zkc.Addrs(), zkmirror.WithChroot("bad")); !errors.Is(err, zkmirror.ErrInvalidPath) {
		t.Fatalf("bad chroot: %v", err)
	}
}

func TestConnectErrors(t *testing.T) {
	leaktest.Check(t)
	if _, err := zkmirror.Connect(nil); !errors.Is(err, zkmirror.ErrInvalidArgument) {
		t.Fatalf("no servers: %v", err)
	}
	if _, err := zkmirror.Connect([]string{"no-such-host.invalid:2181"}); !errors.Is(err, zkmirror.ErrInvalidArgument) {
		t.Fatalf("an unresolvable name: %v", err)
	}
	if _, err := zkmirror.Connect([]string{"127.0.0.1:99999"}); !errors.Is(err, zkmirror.ErrInvalidArgument) {
		t.Fatalf("a bad port: %v", err)
	}
	if _, err := zkmirror.Connect(zkc.Addrs(), zkmirror.WithSessionTimeout(-1)); !errors.Is(err, zkmirror.ErrInvalidArgument) {
		t.Fatalf("negative timeout: %v", err)
	}
	// IPv6 literals are accepted (nothing needs to listen for Connect to succeed).
	for _, s := range []string{"[::1]:2181", "::1", "[::1]"} {
		m, err := zkmirror.Connect([]string{s})
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		m.Close()
	}
}

func TestStates(t *testing.T) {
	leaktest.Check(t)
	m := connect(t)
	ctx, cancel := context.WithCancel(context.Background())
	states := m.States(ctx)
	first := recv(t, states, 5*time.Second)
	if first != zkmirror.StateConnecting && first != zkmirror.StateConnected {
		t.Fatalf("first state %v", first)
	}
	if first == zkmirror.StateConnecting {
		if st := recv(t, states, 10*time.Second); st != zkmirror.StateConnected {
			t.Fatalf("then %v", st)
		}
	}
	if !m.DisconnectedSince().IsZero() {
		t.Fatal("DisconnectedSince while connected")
	}
	if m.SessionTimeout() <= 0 {
		t.Fatal("no session timeout")
	}
	cancel()
	drainClosed(t, states)
	if zkmirror.StateExpired.String() != "Expired" || zkmirror.State(42).String() == "" {
		t.Fatal("State.String")
	}
}

func TestNilArgumentsPanic(t *testing.T) {
	leaktest.Check(t)
	m := connect(t)
	n := mustNode(t, m, "/x")
	for name, f := range map[string]func(){
		"Value":           func() { n.Value(nil) }, //nolint:staticcheck
		"Watch":           func() { n.Watch(nil) }, //nolint:staticcheck
		"AddValueWatcher": func() { n.AddValueWatcher("x", nil) },
		"States":          func() { m.States(nil) }, //nolint:staticcheck
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "nil") {
					t.Errorf("%s: want a clear panic, got %v", name, r)
				}
			}()
			f()
		}()
	}
}

// TestKeepSurvivesDeleteThatNeverRan: a Delete that gives up before it is sent (no
// connection) does not stop the Mirror from keeping the node.
func TestKeepSurvivesDeleteThatNeverRan(t *testing.T) {
	leaktest.Check(t)
	raw := rawClient(t)
	path := uniquePath(t)
	proxy := newProxy(t, zkc.Addrs()[0])
	m := connectTo(t, []string{proxy.Addr()}, zkmirror.WithSessionTimeout(10*time.Second))
	states := m.States(ctxT(t, time.Minute))
	n := mustNode(t, m, path)
	if _, err := n.Create(ctxT(t, 10*time.Second), []byte("k"), zkmirror.Keep()); err != nil {
		t.Fatal(err)
	}
	proxy.Blackhole(0)
	proxy.Cut()
	waitState(t, states, zkmirror.StateSuspended)
	if err := n.Delete(ctxT(t, 300*time.Millisecond), -1); !errors.Is(err, zkmirror.ErrTimeout) {
		t.Fatalf("delete while disconnected: %v", err)
	}
	proxy.Restore()
	waitState(t, states, zkmirror.StateConnected)
	if err := raw.Delete(path, -1); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, _, err := raw.Exists(path)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the Keep node was not re-created after another client deleted it")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReadYourWritesBeforeFirstContact: a write right after a handle starts mirroring a path
// (its first read still in flight) is what Value shows when the write returns, never the
// older state that first read brings back.
func TestReadYourWritesBeforeFirstContact(t *testing.T) {
	leaktest.Check(t)
	raw := rawClient(t)
	m := connect(t)
	ctx := ctxT(t, time.Minute)
	base := uniquePath(t)
	mustCreate(t, raw, base, "")
	for i := range 60 {
		p := fmt.Sprintf("%s/n%d", base, i)
		mustCreate(t, raw, p, "old")
		watchCtx, cancel := context.WithCancel(ctx)

		set := mustNode(t, m, p)
		set.Watch(watchCtx)
		if _, err := set.Set(ctx, []byte("new"), -1); err != nil {
			t.Fatal(err)
		}
		if v, err := set.Value(ctx); err != nil || string(v.Data) != "new" {
			t.Fatalf("%s: Value after Set: %q %v", p, v.Data, err)
		}

		del := mustNode(t, m, p+"x")
		mustCreate(t, raw, p+"x", "old")
		del.Watch(watchCtx)
		if err := del.Delete(ctx, -1); err != nil {
			t.Fatal(err)
		}
		if v, err := del.Value(ctx); !errors.Is(err, zkmirror.ErrNoNode) {
			t.Fatalf("%s: Value after Delete: %+v %v", p+"x", v, err)
		}

		cre := mustNode(t, m, p+"y")
		cre.Watch(watchCtx)
		if _, err := cre.Create(ctx, []byte("made")); err != nil {
			t.Fatal(err)
		}
		if v, err := cre.Value(ctx); err != nil || string(v.Data) != "made" {
			t.Fatalf("%s: Value after Create: %q %v", p+"y", v.Data, err)
		}
		cancel()
		set.Close()
		del.Close()
		cre.Close()
	}
}

// TestCallbacksOnDispatcher: watcher callbacks run on the Mirror's dispatcher goroutine,
// never on one of go-zookeeper's, and a path's snapshots reach them in zxid order; a child
// watcher is removed like a value watcher.
func TestCallbacksOnDispatcher(t *testing.T) {
	leaktest.Check(t)
	m := connect(t)
	p := uniquePath(t)
	n := mustNode(t, m, p)
	ctx := ctxT(t, 20*time.Second)
	if _, err := n.Create(ctx, []byte("0")); err != nil {
		t.Fatal(err)
	}
	type call struct {
		mzxid int64
		stack string
	}
	calls := make(chan call, 1000)
	n.AddValueWatcher("order", func(v zkmirror.Value) {
		buf := make([]byte, 64<<10)
		calls <- call{v.Stat.Mzxid, string(buf[:runtime.Stack(buf, false)])}
	})
	kidCalls := make(chan struct{}, 100)
	n.AddChildWatcher("kids", func(zkmirror.Children) { kidCalls <- struct{}{} })
	recv(t, kidCalls, 5*time.Second)
	var last int64
	final := int64(-1)
	for i := 1; ; {
		if i <= 50 {
			st, err := n.Set(ctx, []byte(strconv.Itoa(i)), -1)
			if err != nil {
				t.Fatal(err)
			}
			if i == 50 {
				final = st.Mzxid
			}
			i++
			continue
		}
		c := recv(t, calls, 10*time.Second)
		if c.mzxid <= last && last != 0 {
			t.Fatalf("callback went from Mzxid %d to %d", last, c.mzxid)
		}
		last = c.mzxid
		if strings.Contains(c.stack, "go-zookeeper/zk.") || !strings.Contains(c.stack, "zkmirror.(*dispatcher).loop") {
			t.Fatalf("callback not on the dispatcher:\n%s", c.stack)
		}
		if last == final {
			break
		}
	}
	n.RemoveChildWatcher("kids")
	if _, err := mustNode(t, m, p+"/k").Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-kidCalls:
		t.Fatal("removed child watcher called")
	case <-time.After(200 * time.Millisecond):
	}
}

// TestAuthAfterExpiry: credentials are added again on the session that follows an expiry,
// before the resync reads: the protected node's Resync snapshot has its data, not ErrNoAuth.
func TestAuthAfterExpiry(t *testing.T) {
	leaktest.Check(t)
	p := uniquePath(t)
	raw := rawClient(t)
	if err := raw.AddAuth("digest", []byte("bob:pw")); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Create(p, []byte("v1"), 0, zk.DigestACL(zk.PermAll, "bob", "pw")); err != nil {
		t.Fatal(err)
	}
	proxy := newProxy(t, zkc.Addrs()[0])
	m := connectTo(t, []string{proxy.Addr()}, zkmirror.WithAuth("digest", []byte("bob:pw")),
		zkmirror.WithSessionTimeout(time.Second), zkmirror.WithResyncJitter(0))
	states := m.States(ctxT(t, time.Minute))
	n := mustNode(t, m, p)
	ch := n.Watch(ctxT(t, time.Minute))
	if v := recv(t, ch, 10*time.Second); string(v.Data) != "v1" || v.Err != nil {
		t.Fatalf("before expiry: %+v", v)
	}
	proxy.Blackhole(0)
	proxy.Cut()
	waitState(t, states, zkmirror.StateSuspended)
	if _, err := raw.Set(p, []byte("v2"), -1); err != nil {
		t.Fatal(err)
	}
	waitState(t, states, zkmirror.StateLost)
	time.Sleep(1500 * time.Millisecond) // the server expires the session
	proxy.Restore()
	waitState(t, states, zkmirror.StateExpired)
	waitState(t, states, zkmirror.StateConnected)
	for {
		v := recv(t, ch, 10*time.Second)
		if v.Err != nil {
			t.Fatalf("after expiry: %+v", v)
		}
		if v.Resync {
			if string(v.Data) != "v2" {
				t.Fatalf("resync snapshot %+v", v)
			}
			return
		}
	}
}
