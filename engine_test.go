package zkmirror_test

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/zkmirror/zkmirror"
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
