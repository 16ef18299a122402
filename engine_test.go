package zkmirror_test

import (
	"errors"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/internal/zktest"
	"github.com/zkmirror/zkmirror/leaktest"
)

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// waitData waits until a snapshot of ch carries want.
func waitData(t *testing.T, ch <-chan zkmirror.Value, want string) zkmirror.Value {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case v, ok := <-ch:
			if !ok {
				t.Fatalf("channel closed waiting for %q", want)
			}
			if v.Exists && string(v.Data) == want {
				return v
			}
		case <-deadline:
			t.Fatalf("no snapshot with %q", want)
		}
	}
}

// waitNames waits until a children snapshot of ch lists n names.
func waitNames(t *testing.T, ch <-chan zkmirror.Children, n int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case c, ok := <-ch:
			if !ok {
				t.Fatalf("channel closed waiting for %d children", n)
			}
			if c.Exists && len(c.Names) == n {
				return
			}
		case <-deadline:
			t.Fatalf("no snapshot with %d children", n)
		}
	}
}

// TestChurnSamePathFlat: opening, reading and closing handles on one unchanging path, over
// and over, keeps memory flat and arms no further watch, and the path is still followed:
// a change while nothing holds it and one while a new handle does are both seen.
func TestChurnSamePathFlat(t *testing.T) {
	base := uniquePath(t)
	for _, exists := range []bool{true, false} {
		name := "missing"
		if exists {
			name = "existing"
		}
		t.Run(name, func(t *testing.T) {
			leaktest.Check(t)
			m := connect(t)
			p := base + "-" + name
			raw := rawClient(t)
			if exists {
				mustCreate(t, raw, p, "v0")
				mustCreate(t, raw, p+"/c", "")
			}
			ctx := ctxT(t, 5*time.Minute)
			cycle := func() {
				n, err := m.Node(p)
				if err != nil {
					t.Fatal(err)
				}
				v, err := n.Value(ctx)
				c, err2 := n.Children(ctx)
				if exists && (err != nil || string(v.Data) != "v0" || err2 != nil || len(c.Names) != 1) {
					t.Fatalf("value %+v, %v; children %+v, %v", v, err, c, err2)
				}
				if !exists && (!errors.Is(err, zkmirror.ErrNoNode) || !errors.Is(err2, zkmirror.ErrNoNode)) {
					t.Fatalf("missing node: value %v, children %v", err, err2)
				}
				n.Close()
			}
			for range 200 { // warm-up: the watches get armed, pools and maps reach their size
				cycle()
			}
			watches := serverWatches(t)
			before := heapInUse()
			const cycles = 10000
			for range cycles {
				cycle()
			}
			after := heapInUse()
			per := (float64(after) - float64(before)) / cycles
			t.Logf("heap: %.1f B a cycle", per)
			if per >= 20 {
				t.Errorf("heap grew by %.1f B a cycle over %d cycles (%d → %d)", per, cycles, before, after)
			}
			if w := serverWatches(t); w != watches {
				t.Errorf("server watches went from %d to %d over the churn", watches, w)
			}
			if st := m.Stats(); st.Paths != 0 || st.Watches != 0 {
				t.Errorf("stats after the churn: %+v", st)
			}

			if exists {
				if _, err := raw.Set(p, []byte("v1"), -1); err != nil {
					t.Fatal(err)
				}
			} else {
				mustCreate(t, raw, p, "v1")
			}
			n := mustNode(t, m, p)
			ch := n.Watch(ctxT(t, 30*time.Second))
			waitData(t, ch, "v1")
			if _, err := raw.Set(p, []byte("v2"), -1); err != nil {
				t.Fatal(err)
			}
			waitData(t, ch, "v2")
			kids := n.WatchChildren(ctxT(t, 30*time.Second))
			mustCreate(t, raw, p+"/d", "")
			if exists {
				waitNames(t, kids, 2)
			} else {
				waitNames(t, kids, 1)
			}
		})
	}
}

// TestReleasedWatchAfterExpiry: the watches a released path left armed die with the
// session; a handle opened in the next session arms new ones and sees changes.
func TestReleasedWatchAfterExpiry(t *testing.T) {
	leaktest.Check(t)
	raw := rawClient(t)
	p := uniquePath(t)
	mustCreate(t, raw, p, "v0")
	proxy := newProxy(t, zkc.Addrs()[0])
	m := connectTo(t, []string{proxy.Addr()}, zkmirror.WithSessionTimeout(time.Second), zkmirror.WithResyncJitter(0))
	states := m.States(ctxT(t, time.Minute))
	n, err := m.Node(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Value(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Children(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	n.Close() // its watches stay armed

	proxy.Blackhole(0)
	proxy.Cut()
	waitState(t, states, zkmirror.StateSuspended)
	waitState(t, states, zkmirror.StateLost)
	time.Sleep(1500 * time.Millisecond) // the server expires the session
	proxy.Restore()
	waitState(t, states, zkmirror.StateExpired)
	waitState(t, states, zkmirror.StateConnected)

	n2 := mustNode(t, m, p)
	ch := n2.Watch(ctxT(t, 30*time.Second))
	waitData(t, ch, "v0")
	kids := n2.WatchChildren(ctxT(t, 30*time.Second))
	waitNames(t, kids, 0)
	if _, err := raw.Set(p, []byte("v1"), -1); err != nil {
		t.Fatal(err)
	}
	waitData(t, ch, "v1")
	mustCreate(t, raw, p+"/c", "")
	waitNames(t, kids, 1)
}

func startStandalone(t *testing.T) *zktest.Cluster {
	t.Helper()
	c, err := zktest.StartStandalone(zktest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func serverZxid(t *testing.T, c *zktest.Cluster) int64 {
	t.Helper()
	s, err := c.Servers[0].Srvr()
	if err != nil {
		t.Fatal(err)
	}
	return s.Zxid
}

// TestHistoryWentBack: the mirror moves from server A to server B, whose history is
// another one: B's nodes have lower zxids than A's, but B's last zxid is past A's, so B
// takes the handshake and says the session expired. After the resync every Node and the
// Tree equal what a fresh client reads from B, a tombstone of A's history does not hide
// B's node, later changes are seen, and one Warn line says the history went back.
func TestHistoryWentBack(t *testing.T) {
	leaktest.Check(t)
	a, b := startStandalone(t), startStandalone(t)
	rawA, rawB := rawClient(t, a.Addrs()...), rawClient(t, b.Addrs()...)

	// B: the new history, its nodes first, with low zxids.
	mustCreate(t, rawB, "/w", "new-w")
	mustCreate(t, rawB, "/w/a", "new-a")
	mustCreate(t, rawB, "/w/b", "new-b")
	mustCreate(t, rawB, "/w/gone", "new-gone")
	mustCreate(t, rawB, "/pad", "")

	// A: the old history, with higher zxids.
	mustCreate(t, rawA, "/pad", "")
	for i := range 100 {
		if _, err := rawA.Set("/pad", []byte(strconv.Itoa(i)), -1); err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(t, rawA, "/w", "old-w")
	mustCreate(t, rawA, "/w/a", "old-a")
	mustCreate(t, rawA, "/w/c", "old-c")
	mustCreate(t, rawA, "/w/gone", "old-gone")

	logs := &lockedBuffer{}
	proxy := newProxy(t, a.Addrs()[0])
	m := connectTo(t, []string{proxy.Addr()}, zkmirror.WithSessionTimeout(2*time.Second),
		zkmirror.WithResyncJitter(0), zkmirror.WithLogger(newLogger(logs)))
	states := m.States(ctxT(t, 2*time.Minute))
	ctx := ctxT(t, 2*time.Minute)
	na := mustNode(t, m, "/w/a")
	va := na.Watch(ctx)
	waitData(t, va, "old-a")
	gone := mustNode(t, m, "/w/gone")
	vg := gone.Watch(ctx)
	waitData(t, vg, "old-gone")
	tr := syncedTree(t, m, "/w")
	events := tr.Events(ctx)
	// A's /w/gone is deleted: the mirror keeps its tombstone, above B's /w/gone.
	if err := rawA.Delete("/w/gone", -1); err != nil {
		t.Fatal(err)
	}
	for v := recv(t, vg, 10*time.Second); v.Exists; v = recv(t, vg, 10*time.Second) {
	}

	// B's last zxid passes A's, so that B accepts the mirror's handshake.
	for target := serverZxid(t, a) + 10; serverZxid(t, b) <= target; {
		for range 20 {
			if _, err := rawB.Set("/pad", nil, -1); err != nil {
				t.Fatal(err)
			}
		}
	}
	proxy.SetTarget(b.Addrs()[0])
	proxy.Cut()
	waitState(t, states, zkmirror.StateExpired)
	waitState(t, states, zkmirror.StateConnected)
	deadline := time.After(30 * time.Second)
	for resynced := false; !resynced; {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("events closed")
			}
			resynced = ev.Type == zkmirror.EventResynced
		case <-deadline:
			t.Fatal("no EventResynced")
		}
	}

	// Everything equals a fresh read of B.
	same := func(what string, v zkmirror.Value, p string) {
		t.Helper()
		data, st, err := rawB.Get(p)
		if err != nil {
			t.Fatal(err)
		}
		if !v.Exists || string(v.Data) != string(data) || v.Stat.Czxid != st.Czxid || v.Stat.Mzxid != st.Mzxid {
			t.Errorf("%s %s: %q czxid %d mzxid %d, server %q czxid %d mzxid %d", what, p,
				v.Data, v.Stat.Czxid, v.Stat.Mzxid, data, st.Czxid, st.Mzxid)
		}
	}
	v, err := na.Value(ctx)
	if err != nil {
		t.Fatal(err)
	}
	same("node", v, "/w/a")
	if v, err = gone.Value(ctx); err != nil {
		t.Fatalf("B's /w/gone behind A's tombstone: %v", err)
	}
	same("node", v, "/w/gone")
	for _, p := range []string{"/w", "/w/a", "/w/b", "/w/gone"} {
		v, ok := tr.Get(p)
		if !ok {
			t.Errorf("tree: %s missing", p)
			continue
		}
		same("tree", v, p)
	}
	if kids, _ := tr.Children("/w"); !slices.Equal(kids, []string{"a", "b", "gone"}) {
		t.Errorf("tree children of /w: %v", kids)
	}
	if _, ok := tr.Get("/w/c"); ok {
		t.Error("tree: A's /w/c still there")
	}

	// Later changes are seen.
	if _, err := rawB.Set("/w/a", []byte("newer-a"), -1); err != nil {
		t.Fatal(err)
	}
	waitData(t, va, "newer-a")
	mustCreate(t, rawB, "/w/d", "new-d")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		v, ok := tr.Get("/w/d")
		va, _ := tr.Get("/w/a")
		if ok && string(v.Data) == "new-d" && string(va.Data) == "newer-a" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tree after the resync: /w/d %+v %v, /w/a %q", v, ok, va.Data)
		}
	}
	if n := strings.Count(logs.String(), "history went back"); n != 1 {
		t.Errorf("%d log lines say the history went back, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "level=WARN msg=\"the server's history went back") {
		t.Errorf("no Warn line:\n%s", logs.String())
	}
}
