package zkmirror_test

import (
	"strings"
	"testing"
	"time"

	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/leaktest"
)

// flatPath is uniquePath for a subtest: a top-level path.
func flatPath(t testing.TB) string {
	return "/" + strings.ReplaceAll(strings.TrimPrefix(uniquePath(t), "/"), "/", "_")
}

// returnsWithin runs f and fails the test if it has not returned within d.
func returnsWithin(t testing.TB, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

// TestCloseFromCallback: Mirror.Close, Node.Close and Tree.Close called from a watcher
// callback return without deadlocking; a Close from another goroutine afterwards still
// returns once every goroutine has ended (leaktest checks that none is left).
func TestCloseFromCallback(t *testing.T) {
	for _, tc := range []struct {
		name  string
		child bool
	}{{"value", false}, {"children", true}} {
		t.Run("Mirror/"+tc.name, func(t *testing.T) {
			leaktest.Check(t)
			m := connect(t)
			n := mustNode(t, m, flatPath(t))
			closed := make(chan error, 1)
			fn := func() {
				closed <- m.Close()
				if _, err := m.Node("/x"); err == nil {
					t.Error("Node after Close from a callback: no error")
				}
			}
			if tc.child {
				n.AddChildWatcher("close", func(zkmirror.Children) { fn() })
			} else {
				n.AddValueWatcher("close", func(zkmirror.Value) { fn() })
			}
			select {
			case err := <-closed:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Close from a callback did not return")
			}
			if st := m.State(); st != zkmirror.StateClosed {
				t.Fatalf("state %v after Close", st)
			}
			returnsWithin(t, 20*time.Second, "a second Close", func() { m.Close() })
			returnsWithin(t, 20*time.Second, "a third Close", func() { m.Close() })
		})
	}

	t.Run("Node", func(t *testing.T) {
		leaktest.Check(t)
		m := connect(t)
		p := flatPath(t)
		n := mustNode(t, m, p)
		other := mustNode(t, m, p)
		watch := other.Watch(ctxT(t, 30*time.Second))
		calls := make(chan struct{}, 10)
		n.AddValueWatcher("close", func(zkmirror.Value) {
			n.Close()
			calls <- struct{}{}
		})
		recv(t, calls, 20*time.Second)
		if _, err := n.Value(ctxT(t, time.Second)); err == nil {
			t.Fatal("Value after Close from a callback: no error")
		}
		// The Mirror and the other handle go on: the dispatcher still runs callbacks.
		recv(t, watch, 10*time.Second)
		if _, err := other.Create(ctxT(t, 10*time.Second), []byte("x")); err != nil {
			t.Fatal(err)
		}
		if v := recv(t, watch, 10*time.Second); !v.Exists {
			t.Fatalf("%+v", v)
		}
		again := make(chan struct{}, 10)
		other.AddValueWatcher("again", func(zkmirror.Value) { again <- struct{}{} })
		recv(t, again, 10*time.Second)
		select {
		case <-calls:
			t.Fatal("closed handle's watcher called again")
		default:
		}
		returnsWithin(t, 20*time.Second, "Mirror.Close", func() { m.Close() })
	})

	t.Run("Tree", func(t *testing.T) {
		leaktest.Check(t)
		raw := rawClient(t)
		root := flatPath(t)
		mustCreate(t, raw, root, "r")
		mustCreate(t, raw, root+"/a", "a")
		m := connect(t)
		tr, err := m.Tree(root)
		if err != nil {
			t.Fatal(err)
		}
		events := tr.Events(ctxT(t, 30*time.Second))
		if err := tr.Synced(ctxT(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		n := mustNode(t, m, root)
		calls := make(chan struct{}, 10)
		n.AddValueWatcher("close", func(zkmirror.Value) {
			tr.Close()
			calls <- struct{}{}
		})
		recv(t, calls, 20*time.Second)
		drainClosed(t, events)
		if tr.Len() != 0 {
			t.Fatalf("Len %d after Close", tr.Len())
		}
		returnsWithin(t, 20*time.Second, "Tree.Close", func() { tr.Close() })
		returnsWithin(t, 20*time.Second, "Mirror.Close", func() { m.Close() })
	})
}
