package zkmirror_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/leaktest"
)

// serverTree reads the subtree at root with a fresh client: path → data.
func serverTree(t testing.TB, raw *zk.Conn, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	var walk func(p string)
	walk = func(p string) {
		data, _, err := raw.Get(p)
		if errors.Is(err, zk.ErrNoNode) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		out[p] = string(data)
		kids, _, err := raw.Children(p)
		if errors.Is(err, zk.ErrNoNode) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range kids {
			walk(p + "/" + k)
		}
	}
	walk(root)
	return out
}

func treeState(tr *zkmirror.Tree) map[string]string {
	out := map[string]string{}
	v := tr.View()
	for _, p := range v.Paths() {
		val, _ := v.Get(p)
		out[p] = string(val.Data)
	}
	return out
}

func eventuallyEqual(t testing.TB, d time.Duration, want func() map[string]string, got func() map[string]string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		w, g := want(), got()
		if fmt.Sprint(w) == fmt.Sprint(g) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("tree differs from the server:\nserver %v\nmirror %v", w, g)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mustCreate(t testing.TB, raw *zk.Conn, p, data string) {
	t.Helper()
	if _, err := raw.Create(p, []byte(data), 0, worldACL); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		t.Fatalf("create %s: %v", p, err)
	}
}

// mirrorBothKinds opens a Node on each path, held until the test ends, and waits until
// both its data and its children are mirrored.
func mirrorBothKinds(t testing.TB, m *zkmirror.Mirror, paths ...string) {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	for _, p := range paths {
		n := mustNode(t, m, p)
		if _, err := n.Value(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := n.Children(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func deleteAll(t testing.TB, raw *zk.Conn, p string) {
	t.Helper()
	kids, _, err := raw.Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return
	}
	for _, k := range kids {
		deleteAll(t, raw, p+"/"+k)
	}
	if err := raw.Delete(p, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		t.Fatal(err)
	}
}

func TestTreeSyncAndNestedChanges(t *testing.T) {
	leaktest.Check(t)
	raw := rawClient(t)
	root := uniquePath(t)
	mustCreate(t, raw, root, "root")
	for i := range 5 {
		a := fmt.Sprintf("%s/a%d", root, i)
		mustCreate(t, raw, a, a)
		for j := range 3 {
			mustCreate(t, raw, fmt.Sprintf("%s/b%d", a, j), "leaf")
		}
	}
	m := connect(t)
	tr, err := m.Tree(root)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	events := tr.Events(ctxT(t, 60*time.Second))
	// Change the tree while it syncs: nested creates and deletes several levels deep.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 5 {
			p := fmt.Sprintf("%s/a%d/b0/c%d", root, i, i)
			raw.Create(p, []byte("deep"), 0, worldACL)
			raw.Create(p+"/d", []byte("deeper"), 0, worldACL)
			raw.Delete(fmt.Sprintf("%s/a%d/b2", root, i), -1)
		}
	}()
	if err := tr.Synced(ctxT(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	<-done
	eventuallyEqual(t, 20*time.Second, func() map[string]string { return serverTree(t, raw, root) }, func() map[string]string { return treeState(tr) })
	if tr.Len() != len(serverTree(t, raw, root)) {
		t.Fatalf("Len %d", tr.Len())
	}
	if kids, ok := tr.Children(root + "/a1"); !ok || !slices.Equal(kids, []string{"b0", "b1"}) {
		t.Fatalf("children %v %v", kids, ok)
	}
	if v, ok := tr.Get(root + "/a1/b0/c1/d"); !ok || string(v.Data) != "deeper" {
		t.Fatalf("get %+v %v", v, ok)
	}

	// Events subscribed before Synced show the initial load as Created events, and what
	// follows: per path, Created only for a node absent so far, Changed and Deleted only for
	// one present; replayed, they give the same state.
	seen := map[string]string{}
	apply := func(ev zkmirror.TreeEvent) {
		_, present := seen[ev.Path]
		switch ev.Type {
		case zkmirror.EventCreated:
			if present {
				t.Fatalf("Created for a present node: %+v", ev)
			}
			seen[ev.Path] = string(ev.Value.Data)
		case zkmirror.EventChanged:
			if !present {
				t.Fatalf("Changed for an absent node (the initial load must come as Created): %+v", ev)
			}
			seen[ev.Path] = string(ev.Value.Data)
		case zkmirror.EventDeleted:
			if !present {
				t.Fatalf("Deleted for an absent node: %+v", ev)
			}
			delete(seen, ev.Path)
		default:
			t.Fatalf("event %+v", ev)
		}
	}
	want := serverTree(t, raw, root)
	deadline := time.After(20 * time.Second)
	for fmt.Sprint(seen) != fmt.Sprint(want) {
		select {
		case ev := <-events:
			apply(ev)
		case <-deadline:
			t.Fatalf("events replayed:\n%v\nserver:\n%v", seen, want)
		}
	}

	// Delete a whole subtree.
	deleteAll(t, raw, root+"/a2")
	eventuallyEqual(t, 20*time.Second, func() map[string]string { return serverTree(t, raw, root) }, func() map[string]string { return treeState(tr) })
	if _, ok := tr.Get(root + "/a2/b0"); ok {
		t.Fatal("deleted subtree still there")
	}
}

func TestTreeMissingRootAndRecreate(t *testing.T) {
	leaktest.Check(t)
	raw := rawClient(t)
	root := uniquePath(t)
	m := connect(t)
	tr, err := m.Tree(root)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Synced(ctxT(t, 10*time.Second)); err != nil {
		t.Fatalf("a missing root must sync: %v", err)
	}
	if tr.Len() != 0 {
		t.Fatalf("Len of a missing root: %d", tr.Len())
	}
	if ok, _, _ := raw.Exists(root); ok {
		t.Fatal("the tree created its root")
	}
	events := tr.Events(ctxT(t, 30*time.Second))
	mustCreate(t, raw, root, "r1")
	mustCreate(t, raw, root+"/x", "x")
	ev := recv(t, events, 10*time.Second)
	if ev.Type != zkmirror.EventCreated || ev.Path != root || string(ev.Value.Data) != "r1" {
		t.Fatalf("%+v", ev)
	}
	ev = recv(t, events, 10*time.Second)
	if ev.Type != zkmirror.EventCreated || ev.Path != root+"/x" {
		t.Fatalf("%+v", ev)
	}
	first, _ := tr.Get(root)
	deleteAll(t, raw, root)
	var types []string
	for len(types) < 2 {
		ev := recv(t, events, 10*time.Second)
		types = append(types, ev.Type.String()+" "+ev.Path)
	}
	sort.Strings(types)
	if !slices.Equal(types, []string{"Deleted " + root, "Deleted " + root + "/x"}) {
		t.Fatalf("%v", types)
	}
	if tr.Len() != 0 {
		t.Fatalf("Len after delete %d", tr.Len())
	}
	mustCreate(t, raw, root, "r1")
	ev = recv(t, events, 10*time.Second)
	if ev.Type != zkmirror.EventCreated || ev.Value.Stat.Czxid <= first.Stat.Czxid {
		t.Fatalf("re-created root: %+v", ev)
	}
}

func TestTreeEventsConflate(t *testing.T) {
	leaktest.Check(t)
	raw := rawClient(t)
	root := uniquePath(t)
	mustCreate(t, raw, root, "")
	m := connect(t)
	tr := syncedTree(t, m, root)
	events := tr.Events(ctxT(t, 30*time.Second)) // not read during the burst
	for i := range 50 {
		mustCreate(t, raw, fmt.Sprintf("%s/n%02d", root, i%10), "")
		raw.Set(fmt.Sprintf("%s/n%02d", root, i%10), []byte(fmt.Sprint(i)), -1)
	}
	raw.Delete(root+"/n09", -1)
	want := serverTree(t, raw, root)
	eventuallyEqual(t, 20*time.Second, func() map[string]string { return want }, func() map[string]string { return treeState(tr) })
	time.Sleep(100 * time.Millisecond)
	// The pending events are at most one per path and replay to the server's state.
	got := map[string]string{root: ""}
	n := 0
	for {
		select {
		case ev := <-events:
			n++
			switch ev.Type {
			case zkmirror.EventCreated, zkmirror.EventChanged:
				got[ev.Path] = string(ev.Value.Data)
			case zkmirror.EventDeleted:
				delete(got, ev.Path)
			}
			continue
		case <-time.After(300 * time.Millisecond):
		}
		break
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("replayed %v, server %v", got, want)
	}
	if n > 10 {
		t.Fatalf("%d events for 10 paths: not conflated", n)
	}
}

func TestTreeSharesWatchesWithNodes(t *testing.T) {
	leaktest.Check(t)
	raw := rawClient(t)
	root := uniquePath(t)
	mustCreate(t, raw, root, "r")
	mustCreate(t, raw, root+"/a", "a")
	m := connect(t)
	before := serverWatches(t)
	tr := syncedTree(t, m, root)
	// The server's wchs counts data watches only (one per node); the child watches show
	// in Stats.
	treeWatches := serverWatches(t) - before
	if treeWatches != 2 {
		t.Fatalf("tree of 2 nodes set %d data watches", treeWatches)
	}
	mirrorBothKinds(t, m, root+"/a")
	if w := serverWatches(t) - before; w != treeWatches {
		t.Fatalf("a Node on a Tree path added watches: %d → %d", treeWatches, w)
	}
	if st := m.Stats(); st.Paths != 2 || st.Watches != 4 {
		t.Fatalf("stats %+v", st)
	}
	tr.Close()
	if st := m.Stats(); st.Paths != 1 || st.Watches != 2 {
		t.Fatalf("after tree close %+v", st)
	}
}

func TestTreeOptions(t *testing.T) {
	leaktest.Check(t)
	raw := rawClient(t)
	root := uniquePath(t)
	mustCreate(t, raw, root, "r")
	for _, c := range []string{"keep", "skip"} {
		mustCreate(t, raw, root+"/"+c, c)
		mustCreate(t, raw, root+"/"+c+"/deep", "d")
	}
	m := connect(t)
	ctx := ctxT(t, 20*time.Second)

	d0, _ := m.Tree(root, zkmirror.MaxDepth(0))
	defer d0.Close()
	d1, _ := m.Tree(root, zkmirror.MaxDepth(1))
	defer d1.Close()
	names, _ := m.Tree(root, zkmirror.NamesOnly())
	defer names.Close()
	filt, _ := m.Tree(root, zkmirror.Filter(func(p string) bool { return !strings.HasSuffix(p, "/skip") }))
	defer filt.Close()
	for _, tr := range []*zkmirror.Tree{d0, d1, names, filt} {
		if err := tr.Synced(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if d0.Len() != 1 || d1.Len() != 3 || names.Len() != 5 || filt.Len() != 3 {
		t.Fatalf("Len: depth0 %d depth1 %d names %d filter %d", d0.Len(), d1.Len(), names.Len(), filt.Len())
	}
	if _, ok := d1.Children(root + "/keep"); ok {
		t.Fatal("children below MaxDepth")
	}
	if v, ok := names.Get(root + "/keep"); !ok || v.Data != nil || v.Stat.NumChildren != 1 {
		t.Fatalf("names only: %+v %v", v, ok)
	}
	if _, ok := filt.Get(root + "/skip/deep"); ok {
		t.Fatal("filtered subtree mirrored")
	}
	for _, d := range []int{-1, -3} {
		if _, err := m.Tree(root, zkmirror.MaxDepth(d)); !errors.Is(err, zkmirror.ErrInvalidArgument) {
			t.Fatalf("MaxDepth(%d): %v", d, err)
		}
	}
	// Lookups of invalid paths find nothing, in the Tree and in a view.
	view := d1.View()
	for _, p := range []string{"", "x", root + "/", root + "//keep", root + "/./keep"} {
		if _, ok := d1.Get(p); ok {
			t.Fatalf("Get(%q) found a node", p)
		}
		if _, ok := d1.Children(p); ok {
			t.Fatalf("Children(%q) found a node", p)
		}
		if _, ok := view.Get(p); ok {
			t.Fatalf("view Get(%q) found a node", p)
		}
	}
	if _, err := m.Tree("bad"); !errors.Is(err, zkmirror.ErrInvalidPath) {
		t.Fatal(err)
	}
}

func TestTreeViewIsImmutable(t *testing.T) {
	leaktest.Check(t)
	raw := rawClient(t)
	root := uniquePath(t)
	mustCreate(t, raw, root, "r")
	mustCreate(t, raw, root+"/a", "1")
	m := connect(t)
	tr, _ := m.Tree(root)
	defer tr.Close()
	if err := tr.Synced(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	view := tr.View()
	raw.Set(root+"/a", []byte("2"), -1)
	mustCreate(t, raw, root+"/b", "b")
	eventuallyEqual(t, 10*time.Second, func() map[string]string { return serverTree(t, raw, root) }, func() map[string]string { return treeState(tr) })
	if v, _ := view.Get(root + "/a"); string(v.Data) != "1" {
		t.Fatalf("view changed: %q", v.Data)
	}
	if view.Len() != 2 || len(view.Paths()) != 2 {
		t.Fatalf("view len %d", view.Len())
	}
	if _, ok := view.Get(root + "/b"); ok {
		t.Fatal("view gained a node")
	}
}

// TestTreeResyncAfterExpiry: after an expiry only real differences become events, flagged
// Resync, then one EventResynced.
func TestTreeResyncAfterExpiry(t *testing.T) {
	leaktest.Check(t)
	raw := rawClient(t)
	root := uniquePath(t)
	mustCreate(t, raw, root, "r")
	for _, c := range []string{"same", "changed", "deleted"} {
		mustCreate(t, raw, root+"/"+c, c)
	}
	proxy := newProxy(t, zkc.Addrs()[0])
	m := connectTo(t, []string{proxy.Addr()}, zkmirror.WithSessionTimeout(time.Second), zkmirror.WithResyncJitter(0))
	states := m.States(ctxT(t, 60*time.Second))
	tr, _ := m.Tree(root)
	defer tr.Close()
	if err := tr.Synced(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	events := tr.Events(ctxT(t, 60*time.Second))

	proxy.Blackhole(0)
	proxy.Cut()
	waitState(t, states, zkmirror.StateSuspended)
	raw.Set(root+"/changed", []byte("changed2"), -1)
	raw.Delete(root+"/deleted", -1)
	mustCreate(t, raw, root+"/added", "added")
	waitState(t, states, zkmirror.StateLost)
	time.Sleep(1500 * time.Millisecond) // the server expires the session
	proxy.Restore()
	waitState(t, states, zkmirror.StateExpired)
	waitState(t, states, zkmirror.StateConnected)

	got := map[string]string{}
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Type == zkmirror.EventResynced {
				want := map[string]string{
					"Changed " + root + "/changed": "changed2",
					"Deleted " + root + "/deleted": "",
					"Created " + root + "/added":   "added",
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("resync events %v, want %v", got, want)
				}
				if ev.Path != root {
					t.Fatalf("resynced path %q", ev.Path)
				}
				if m.Stats().Resyncs != 1 {
					t.Fatalf("resyncs %d", m.Stats().Resyncs)
				}
				// A subscriber joining later gets the latest snapshot as it is: flagged.
				n := mustNode(t, m, root+"/same")
				if v := recv(t, n.Watch(ctxT(t, 5*time.Second)), 5*time.Second); !v.Resync || string(v.Data) != "same" {
					t.Fatalf("late subscriber got %+v", v)
				}
				c := recv(t, n.WatchChildren(ctxT(t, 5*time.Second)), 5*time.Second)
				if !c.Resync || !c.Exists {
					t.Fatalf("late children subscriber got %+v", c)
				}
				return
			}
			if !ev.Resync {
				t.Fatalf("event without Resync during the resync: %+v", ev)
			}
			got[ev.Type.String()+" "+ev.Path] = string(ev.Value.Data)
		case <-deadline:
			t.Fatalf("no EventResynced; got %v", got)
		}
	}
}

func TestTreeCloseEndsEvents(t *testing.T) {
	leaktest.Check(t)
	m := connect(t)
	tr, _ := m.Tree("/")
	ch := tr.Events(context.Background())
	if err := tr.Synced(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	tr.Close()
	drainClosed(t, ch)
	if err := tr.Synced(ctxT(t, time.Second)); !errors.Is(err, zkmirror.ErrClosed) {
		t.Fatalf("Synced after Close: %v", err)
	}
	tr2, _ := m.Tree("/")
	ch2 := tr2.Events(context.Background())
	m.Close()
	drainClosed(t, ch2)
	if _, err := m.Tree("/"); !errors.Is(err, zkmirror.ErrClosed) {
		t.Fatal(err)
	}
}

// TestTreeEventOnOfferConflates: the event offered to a reader that is away is merged with
// later ones like any pending event.
func TestTreeEventOnOfferConflates(t *testing.T) {
	leaktest.Check(t)
	raw := rawClient(t)
	root := uniquePath(t)
	mustCreate(t, raw, root, "")
	m := connect(t)
	tr, _ := m.Tree(root)
	defer tr.Close()
	if err := tr.Synced(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	events := tr.Events(ctxT(t, 30*time.Second))
	mustCreate(t, raw, root+"/n", "0")
	time.Sleep(50 * time.Millisecond) // the Created event is on offer
	for i := 1; i <= 4; i++ {
		raw.Set(root+"/n", []byte(fmt.Sprint(i)), -1)
	}
	eventuallyEqual(t, 10*time.Second, func() map[string]string { return map[string]string{root: "", root + "/n": "4"} }, func() map[string]string { return treeState(tr) })
	time.Sleep(50 * time.Millisecond)
	ev := recv(t, events, 5*time.Second)
	if ev.Type != zkmirror.EventCreated || string(ev.Value.Data) != "4" || ev.Value.Stat.Version != 4 {
		t.Fatalf("want one Created with the latest value, got %+v", ev)
	}
	select {
	case ev := <-events:
		t.Fatalf("second event %+v", ev)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestTreeOverMirroredPaths: Trees built over paths Node handles and another Tree already
// mirror start from their state, hold only the kinds their options ask for, and leave the
// paths mirrored for the others when they close.
func TestTreeOverMirroredPaths(t *testing.T) {
	leaktest.Check(t)
	raw := rawClient(t)
	root := uniquePath(t)
	mustCreate(t, raw, root, "r")
	mustCreate(t, raw, root+"/a", "a")
	mustCreate(t, raw, root+"/a/x", "x")
	mustCreate(t, raw, root+"/b", "b")
	m := connect(t)
	ctx := ctxT(t, 20*time.Second)

	// Both kinds of the root and of /a mirrored before any Tree.
	mirrorBothKinds(t, m, root, root+"/a")
	full, _ := m.Tree(root)
	defer full.Close()
	shallow, _ := m.Tree(root, zkmirror.MaxDepth(1))
	defer shallow.Close()
	names, _ := m.Tree(root, zkmirror.NamesOnly())
	defer names.Close()
	for _, tr := range []*zkmirror.Tree{full, shallow, names} {
		if err := tr.Synced(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if full.Len() != 4 || shallow.Len() != 3 || names.Len() != 4 {
		t.Fatalf("Len: full %d shallow %d names %d", full.Len(), shallow.Len(), names.Len())
	}
	if got := treeState(full); !maps.Equal(got, serverTree(t, raw, root)) {
		t.Fatalf("full tree %v", got)
	}
	// /a is a leaf of the shallow Tree although its children are mirrored for a Node.
	if kids, ok := shallow.Children(root + "/a"); ok {
		t.Fatalf("children below MaxDepth: %v", kids)
	}
	if kids, ok := full.Children(root + "/a"); !ok || !slices.Equal(kids, []string{"x"}) {
		t.Fatalf("full children %v %v", kids, ok)
	}
	// The names-only Tree shows no data although the data is mirrored for the others.
	if v, ok := names.Get(root + "/a"); !ok || v.Data != nil || v.Stat.NumChildren != 1 {
		t.Fatalf("names only: %+v %v", v, ok)
	}

	ev := full.Events(ctx)
	if _, err := raw.Set(root+"/a", []byte("a2"), -1); err != nil {
		t.Fatal(err)
	}
	if e := recv(t, ev, 10*time.Second); e.Type != zkmirror.EventChanged || e.Path != root+"/a" || string(e.Value.Data) != "a2" {
		t.Fatalf("event %+v", e)
	}
	// A Tree keeps no state of a kind it does not hold, however long others mirror it.
	if d, k := zkmirror.TreeRecordKinds(names, root+"/a"); d || !k {
		t.Fatalf("names-only Tree keeps data %v, children %v", d, k)
	}
	if d, k := zkmirror.TreeRecordKinds(shallow, root+"/a"); !d || k {
		t.Fatalf("MaxDepth(1) leaf keeps data %v, children %v", d, k)
	}
	// After the data change the children kind still shows the Stat of its own read.
	if kids, ok := full.Children(root + "/a"); !ok || len(kids) != 1 {
		t.Fatalf("children after a data change: %v %v", kids, ok)
	}
	shallow.Close()
	names.Close()
	mustCreate(t, raw, root+"/a/y", "y")
	if e := recv(t, ev, 10*time.Second); e.Type != zkmirror.EventCreated || e.Path != root+"/a/y" {
		t.Fatalf("event %+v", e)
	}
	eventuallyEqual(t, 10*time.Second, func() map[string]string { return serverTree(t, raw, root) }, func() map[string]string { return treeState(full) })
	full.Close()
	if st := m.Stats(); st.Paths != 2 || st.Watches != 4 {
		t.Fatalf("after the Trees closed: %+v", st)
	}
}

// TestTreeSyncedWaitsForEveryNode: when the first children of a node are already mirrored
// (and so complete at once), Synced still waits for their siblings.
func TestTreeSyncedWaitsForEveryNode(t *testing.T) {
	leaktest.Check(t)
	raw := rawClient(t)
	root := uniquePath(t)
	mustCreate(t, raw, root, "r")
	for _, c := range []string{"a", "b", "c"} {
		mustCreate(t, raw, root+"/"+c, c)
	}
	m := connect(t)
	ctx := ctxT(t, 20*time.Second)
	mirrorBothKinds(t, m, root, root+"/a")
	for range 3 {
		tr, err := m.Tree(root)
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.Synced(ctx); err != nil {
			t.Fatal(err)
		}
		if n := tr.Len(); n != 4 {
			t.Fatalf("Synced with %d of 4 nodes loaded", n)
		}
		if v, ok := tr.Get(root + "/c"); !ok || string(v.Data) != "c" {
			t.Fatalf("after Synced: %+v %v", v, ok)
		}
		tr.Close()
	}
}

// syncedTree mirrors root in a Tree of m, waits for its initial load and closes the Tree
// when the test ends.
func syncedTree(t testing.TB, m *zkmirror.Mirror, root string, opts ...zkmirror.TreeOption) *zkmirror.Tree {
	t.Helper()
	tr, err := m.Tree(root, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	if err := tr.Synced(ctxT(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	return tr
}
