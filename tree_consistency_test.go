package zkmirror_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/leaktest"
)

// nextEvent waits for the next event of path, skipping those of other paths.
func nextEvent(t testing.TB, events <-chan zkmirror.TreeEvent, path string) zkmirror.TreeEvent {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("events closed")
			}
			if ev.Path == path {
				return ev
			}
		case <-deadline:
			t.Fatalf("no event for %s", path)
		}
	}
}

// TestTreeConsistentAtEventTime: when an event is delivered the Tree already reflects it
// across paths: a Created child is listed by its parent and its own data and children are
// there; a Deleted child is gone from its parent's children.
func TestTreeConsistentAtEventTime(t *testing.T) {
	leaktest.Check(t)
	raw := rawClient(t)
	root := uniquePath(t)
	mustCreate(t, raw, root, "r")
	m := connect(t)
	tr := syncedTree(t, m, root)
	events := tr.Events(ctxT(t, 5*time.Minute))
	child := root + "/c"
	var bad []string
	const trials = 200
	for i := range trials {
		mustCreate(t, raw, child, fmt.Sprint(i))
		ev := nextEvent(t, events, child)
		if ev.Type != zkmirror.EventCreated {
			t.Fatalf("trial %d: got %v, want Created", i, ev.Type)
		}
		if names, ok := tr.Children(root); !ok || !slices.Contains(names, "c") {
			bad = append(bad, fmt.Sprintf("trial %d: after Created, parent lists %q %v", i, names, ok))
		}
		if v, ok := tr.Get(child); !ok || string(v.Data) != fmt.Sprint(i) {
			bad = append(bad, fmt.Sprintf("trial %d: after Created, Get %+v %v", i, v, ok))
		}
		if names, ok := tr.Children(child); !ok || len(names) != 0 {
			bad = append(bad, fmt.Sprintf("trial %d: after Created, its Children %q %v", i, names, ok))
		}
		if n := tr.Len(); n != 2 {
			bad = append(bad, fmt.Sprintf("trial %d: after Created, Len %d", i, n))
		}
		if err := raw.Delete(child, -1); err != nil {
			t.Fatal(err)
		}
		ev = nextEvent(t, events, child)
		if ev.Type != zkmirror.EventDeleted {
			t.Fatalf("trial %d: got %v, want Deleted", i, ev.Type)
		}
		if names, ok := tr.Children(root); !ok || slices.Contains(names, "c") {
			bad = append(bad, fmt.Sprintf("trial %d: after Deleted, parent lists %q %v", i, names, ok))
		}
		if v, ok := tr.Get(child); ok {
			bad = append(bad, fmt.Sprintf("trial %d: after Deleted, Get %+v", i, v))
		}
		if n := tr.Len(); n != 1 {
			bad = append(bad, fmt.Sprintf("trial %d: after Deleted, Len %d", i, n))
		}
	}
	if len(bad) > 0 {
		t.Fatalf("%d inconsistencies in %d trials:\n%s", len(bad), trials, strings.Join(bad, "\n"))
	}
}

// TestTreeConsistentForNestedCreates: a subtree created at once shows up parent first;
// when a node's Created event is delivered, its parent is in the Tree and lists it.
func TestTreeConsistentForNestedCreates(t *testing.T) {
	leaktest.Check(t)
	raw := rawClient(t)
	root := uniquePath(t)
	mustCreate(t, raw, root, "r")
	m := connect(t)
	tr := syncedTree(t, m, root)
	events := tr.Events(ctxT(t, 5*time.Minute))
	const trials = 50
	for i := range trials {
		a := fmt.Sprintf("%s/a%d", root, i)
		paths := []string{a, a + "/b", a + "/b/c"}
		for _, p := range paths {
			mustCreate(t, raw, p, p)
		}
		for range paths {
			ev := recv(t, events, 10*time.Second)
			if ev.Type != zkmirror.EventCreated {
				t.Fatalf("trial %d: %+v", i, ev)
			}
			parent := ev.Path[:strings.LastIndex(ev.Path, "/")]
			if _, ok := tr.Get(parent); !ok {
				t.Fatalf("trial %d: Created %s before its parent is in the Tree", i, ev.Path)
			}
			if names, ok := tr.Children(parent); !ok || !slices.Contains(names, ev.Path[len(parent)+1:]) {
				t.Fatalf("trial %d: Created %s, parent lists %q %v", i, ev.Path, names, ok)
			}
			if _, ok := tr.Children(ev.Path); !ok {
				t.Fatalf("trial %d: Created %s without its children", i, ev.Path)
			}
		}
		for _, p := range slices.Backward(paths) {
			if err := raw.Delete(p, -1); err != nil {
				t.Fatal(err)
			}
		}
		for range paths {
			ev := recv(t, events, 10*time.Second)
			if ev.Type != zkmirror.EventDeleted {
				t.Fatalf("trial %d: %+v", i, ev)
			}
			parent := ev.Path[:strings.LastIndex(ev.Path, "/")]
			if names, ok := tr.Children(parent); ok && slices.Contains(names, ev.Path[len(parent)+1:]) {
				t.Fatalf("trial %d: Deleted %s, parent still lists it", i, ev.Path)
			}
		}
	}
}

// TestTreeUnreadableChildren: a node the Tree may not read shows ErrNoAuth in Get's Err,
// and its children, which cannot be listed, are reported as not mirrored rather than as
// none.
func TestTreeUnreadableChildren(t *testing.T) {
	leaktest.Check(t)
	raw := rawClient(t)
	if err := raw.AddAuth("digest", []byte("alice:secret")); err != nil {
		t.Fatal(err)
	}
	root := uniquePath(t)
	mustCreate(t, raw, root, "r")
	secret := root + "/secret"
	if _, err := raw.Create(secret, []byte("private"), 0, zk.DigestACL(zk.PermAll, "alice", "secret")); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, raw, secret+"/child", "c")
	for _, opts := range [][]zkmirror.TreeOption{nil, {zkmirror.NamesOnly()}} {
		m := connect(t)
		tr, err := m.Tree(root, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.Synced(ctxT(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		events := tr.Events(ctxT(t, 30*time.Second))
		v, ok := tr.Get(secret)
		if !ok || !errors.Is(v.Err, zkmirror.ErrNoAuth) || !v.Exists {
			t.Fatalf("opts %d: Get %+v %v, want ErrNoAuth", len(opts), v, ok)
		}
		if names, ok := tr.Children(secret); ok || names != nil {
			t.Fatalf("opts %d: Children of an unreadable node: %q %v", len(opts), names, ok)
		}
		if names, ok := tr.View().Children(secret); ok || names != nil {
			t.Fatalf("opts %d: View().Children of an unreadable node: %q %v", len(opts), names, ok)
		}
		if names, ok := tr.Children(root); !ok || !slices.Contains(names, "secret") {
			t.Fatalf("opts %d: root's children %q %v", len(opts), names, ok)
		}
		// One more, created while the Tree runs: its event carries the error.
		later := fmt.Sprintf("%s/later%d", root, len(opts))
		if _, err := raw.Create(later, []byte("private"), 0, zk.DigestACL(zk.PermAll, "alice", "secret")); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, raw, later+"/child", "c")
		ev := nextEvent(t, events, later)
		if ev.Type != zkmirror.EventCreated || !errors.Is(ev.Value.Err, zkmirror.ErrNoAuth) {
			t.Fatalf("opts %d: event %+v", len(opts), ev)
		}
		if names, ok := tr.Children(later); ok || names != nil {
			t.Fatalf("opts %d: Children of an unreadable node: %q %v", len(opts), names, ok)
		}
		tr.Close()
		m.Close()
	}
}

// TestTreeCloseEmpties: after Close the Tree and its views taken afterwards are empty.
func TestTreeCloseEmpties(t *testing.T) {
	leaktest.Check(t)
	raw := rawClient(t)
	root := uniquePath(t)
	mustCreate(t, raw, root, "r")
	mustCreate(t, raw, root+"/a", "a")
	m := connect(t)
	for _, closeMirror := range []bool{false, true} {
		tr, err := m.Tree(root)
		if err != nil {
			t.Fatal(err)
		}
		events := tr.Events(context.Background())
		if err := tr.Synced(ctxT(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		before := tr.View()
		if tr.Len() != 2 || before.Len() != 2 {
			t.Fatalf("Len %d, view %d before Close", tr.Len(), before.Len())
		}
		if closeMirror {
			m.Close()
		} else {
			tr.Close()
		}
		if n := tr.Len(); n != 0 {
			t.Fatalf("closeMirror=%v: Len %d after Close", closeMirror, n)
		}
		v := tr.View()
		if v.Len() != 0 || len(v.Paths()) != 0 {
			t.Fatalf("closeMirror=%v: view after Close: Len %d, paths %q", closeMirror, v.Len(), v.Paths())
		}
		for _, p := range []string{root, root + "/a"} {
			if _, ok := tr.Get(p); ok {
				t.Fatalf("closeMirror=%v: Get(%s) after Close", closeMirror, p)
			}
			if _, ok := tr.Children(p); ok {
				t.Fatalf("closeMirror=%v: Children(%s) after Close", closeMirror, p)
			}
			if _, ok := v.Get(p); ok {
				t.Fatalf("closeMirror=%v: view Get(%s) after Close", closeMirror, p)
			}
		}
		drainClosed(t, events)
		drainClosed(t, tr.Events(context.Background()))
		if err := tr.Synced(ctxT(t, time.Second)); !errors.Is(err, zkmirror.ErrClosed) {
			t.Fatalf("Synced after Close: %v", err)
		}
		// A view taken before stays as it was.
		if before.Len() != 2 {
			t.Fatalf("closeMirror=%v: earlier view changed: Len %d", closeMirror, before.Len())
		}
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTreeFilterPanics: a Filter that panics is recovered and logged, and the path it
// panicked on is left out of the Tree.
func TestTreeFilterPanics(t *testing.T) {
	leaktest.Check(t)
	raw := rawClient(t)
	root := uniquePath(t)
	mustCreate(t, raw, root, "r")
	mustCreate(t, raw, root+"/good", "g")
	mustCreate(t, raw, root+"/bad", "b")
	mustCreate(t, raw, root+"/bad/below", "x")
	var logs lockedBuffer
	m := connect(t, zkmirror.WithLogger(newLogger(&logs)))
	tr, err := m.Tree(root, zkmirror.Filter(func(p string) bool {
		if strings.HasSuffix(p, "/bad") || strings.HasSuffix(p, "/later") {
			panic("filter exploded on " + p)
		}
		return true
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Synced(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	events := tr.Events(ctxT(t, 30*time.Second))
	mustCreate(t, raw, root+"/later", "l")
	mustCreate(t, raw, root+"/after", "a")
	if ev := nextEvent(t, events, root+"/after"); ev.Type != zkmirror.EventCreated {
		t.Fatalf("%+v", ev)
	}
	got := tr.View().Paths()
	want := []string{root, root + "/after", root + "/good"}
	if !slices.Equal(got, want) {
		t.Fatalf("paths %q, want %q", got, want)
	}
	if names, _ := tr.Children(root); !slices.Equal(names, []string{"after", "bad", "good", "later"}) {
		t.Fatalf("root's children %q", names)
	}
	out := logs.String()
	for _, p := range []string{root + "/bad", root + "/later"} {
		if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "path="+p) || !strings.Contains(out, "filter exploded on "+p) {
			t.Fatalf("no Error log for %s:\n%s", p, out)
		}
	}
}
