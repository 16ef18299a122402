package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror/session"
)

// The engine's rules, driven through a fake connection as the Mirror drives it: New, Start,
// the session's transitions, then holders acquiring and releasing paths.

// hangGuard bounds how long a test waits for something that must happen: a guard against a
// hang, not a measure of speed.
const hangGuard = 10 * time.Second

// delivery is one Deliver as a holder saw it; resyncMarker marks the listener's ResyncStarted.
type delivery struct {
	path         string
	k            Kind
	czxid, zxid  int64
	exists       bool
	resync       bool
	err          error
	data         string
	names        []string
	resyncMarker bool
}

func (d delivery) String() string {
	if d.resyncMarker {
		return "<resync started>"
	}
	s := fmt.Sprintf("%s/%d c%d z%d", d.path, d.k, d.czxid, d.zxid)
	if !d.exists {
		s += " absent"
	}
	if d.resync {
		s += " resync"
	}
	if d.err != nil {
		s += " err=" + d.err.Error()
	}
	return s
}

// recHolder records every delivery, and the resyncs started when it is also a listener.
type recHolder struct {
	mu   sync.Mutex
	got  []delivery
	poke chan struct{}
}

func newRecHolder() *recHolder { return &recHolder{poke: make(chan struct{}, 1)} }

func (h *recHolder) Deliver(path string, k Kind, rec *Record, resync bool) {
	d := delivery{path: path, k: k, exists: rec.Exists(k), resync: resync, err: rec.Err(k)}
	d.czxid, d.zxid = rec.Zxids(k)
	if k == KindData {
		d.data = string(rec.Data())
	} else {
		d.names = slices.Clone(rec.Names())
	}
	h.add(d)
}

func (h *recHolder) ResyncStarted() { h.add(delivery{resyncMarker: true}) }

func (h *recHolder) add(d delivery) {
	h.mu.Lock()
	h.got = append(h.got, d)
	h.mu.Unlock()
	select {
	case h.poke <- struct{}{}:
	default:
	}
}

func (h *recHolder) all() []delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

// await waits until ok holds of the deliveries so far, and returns them.
func (h *recHolder) await(t *testing.T, what string, ok func([]delivery) bool) []delivery {
	t.Helper()
	guard := time.NewTimer(hangGuard)
	defer guard.Stop()
	for {
		got := h.all()
		if ok(got) {
			return got
		}
		select {
		case <-h.poke:
		case <-guard.C:
			t.Fatalf("waiting for %s; delivered %v", what, got)
		}
	}
}

// awaitN waits for n deliveries.
func (h *recHolder) awaitN(t *testing.T, n int) []delivery {
	t.Helper()
	return h.await(t, fmt.Sprintf("%d deliveries", n), func(d []delivery) bool { return len(d) >= n })
}

// awaitZxid waits for a delivery of kind k at zxid z or later, and returns them all.
func (h *recHolder) awaitZxid(t *testing.T, k Kind, z int64) []delivery {
	t.Helper()
	return h.await(t, fmt.Sprintf("kind %d at zxid %d", k, z), func(ds []delivery) bool {
		for _, d := range ds {
			if !d.resyncMarker && d.k == k && d.zxid >= z {
				return true
			}
		}
		return false
	})
}

// logRec is a slog handler that keeps every record's level and message.
type logRec struct {
	mu   sync.Mutex
	recs []string
}

func (l *logRec) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRec) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Level.String()+" "+r.Message)
	return nil
}
func (l *logRec) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRec) WithGroup(string) slog.Handler      { return l }

func (l *logRec) count(level slog.Level) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs {
		if len(r) > len(level.String()) && r[:len(level.String())+1] == level.String()+" " {
			n++
		}
	}
	return n
}

// rig is an engine on a fake connection.
type rig struct {
	t    *testing.T
	f    *fakeConn
	g    *Engine
	logs *logRec
	gen  uint64
}

// errRead is what Config.ReadErr makes of a failed read in these tests.
type errRead struct {
	path string
	err  error
}

func (e *errRead) Error() string { return "read " + e.path + ": " + e.err.Error() }
func (e *errRead) Unwrap() error { return e.err }

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{t: t, f: newFakeConn(1), logs: &logRec{}}
	r.g = New(Config{
		Log:             slog.New(r.logs),
		ReadConcurrency: 4,
		ReadErr: func(spath string, err error) error {
			if err == nil {
				return nil
			}
			return &errRead{spath, err}
		},
		ErrKey: func(err error) error { return errors.Unwrap(err) },
	})
	r.f.onEvent = r.g.OnNodeEvent
	r.g.Start(r.f, func() time.Duration { return time.Second })
	t.Cleanup(func() {
		r.g.Stop()
		r.f.releaseAll()
		r.g.Close()
	})
	return r
}

// connect delivers the first session's Connected transition.
func (r *rig) connect() {
	r.gen = 1
	r.g.OnTransition(session.Transition{State: session.StateConnected, SessionID: r.f.SessionID(), NewSession: true, Generation: 1})
}

// expire ends the session (the server drops its watches) and connects a new one with
// session id sid; between the two, during(), if set, changes the tree.
func (r *rig) expire(sid int64, during func()) {
	r.g.OnTransition(session.Transition{State: session.StateExpired})
	r.f.dropSessionWatches()
	if during != nil {
		during()
	}
	r.f.setSessionID(sid)
	r.gen++
	r.g.OnTransition(session.Transition{State: session.StateConnected, SessionID: sid, NewSession: true, Generation: r.gen})
}

func (r *rig) acquire(path string, k Kind, h Holder) {
	r.t.Helper()
	if err := r.g.Acquire(path, k, h, nil); err != nil {
		r.t.Fatalf("acquire %s: %v", path, err)
	}
}

// stat returns the fake's current Stat of path.
func (r *rig) stat(path string) zk.Stat {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	return r.f.nodes[path].stat
}

// awaitReached waits for a blocked call to arrive at its gate.
func awaitReached(t *testing.T, g *gate, what string) {
	t.Helper()
	select {
	case <-g.reached:
	case <-time.After(hangGuard):
		t.Fatalf("%s never called", what)
	}
}

func zxidOf(k Kind, st zk.Stat) int64 {
	if k == KindData {
		return st.Mzxid
	}
	return st.Pzxid
}

func states(ds []delivery) []string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.String()
	}
	return s
}

func wantStates(t *testing.T, got []delivery, want ...string) {
	t.Helper()
	if g := states(got); !slices.Equal(g, want) {
		t.Fatalf("delivered\n  %v\nwant\n  %v", g, want)
	}
}

var bothKinds = []struct {
	name string
	k    Kind
}{{"data", KindData}, {"children", KindChildren}}

// change makes a change that kind k sees at path: new data, or a new child.
func change(f *fakeConn, path string, k Kind, n int) int64 {
	if k == KindData {
		return f.mustSet(path, fmt.Sprint("v", n))
	}
	return f.mustCreate(fmt.Sprintf("%s/c%d", path, n), "")
}

// Rule 1: first contact delivers the current state, and a missing node as absent.
func TestRuleFirstContact(t *testing.T) {
	for _, kc := range bothKinds {
		for _, exists := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s exists=%v", kc.name, exists), func(t *testing.T) {
				r := newRig(t)
				want := "/p/" + fmt.Sprint(int(kc.k)) + " c0 z0 absent"
				if exists {
					r.f.mustCreate("/p", "v0")
					if kc.k == KindChildren {
						r.f.mustCreate("/p/a", "")
					}
					st := r.stat("/p")
					want = fmt.Sprintf("/p/%d c%d z%d", kc.k, st.Czxid, zxidOf(kc.k, st))
				}
				h := newRecHolder()
				r.acquire("/p", kc.k, h)
				r.connect()
				got := h.awaitN(t, 1)
				wantStates(t, got, want)
				if exists && kc.k == KindData && got[0].data != "v0" {
					t.Fatalf("data %q", got[0].data)
				}
				if exists && kc.k == KindChildren && !slices.Equal(got[0].names, []string{"a"}) {
					t.Fatalf("names %v", got[0].names)
				}
			})
		}
	}
}

// Rules 2 to 4, within one server history: an answer older than what was delivered is
// not delivered (monotonic), a delete and re-create between two reads is (the Czxid
// changed), and after a deletion a lagging answer showing the deleted incarnation is not
// delivered (tombstone). Each lagging answer is followed by a real change, whose delivery
// shows the lagging one was read and passed over.
func TestRuleMonotonic(t *testing.T) {
	type scenario struct {
		name string
		// run drives the tree after the first contact; it returns the states the holder must
		// have been delivered after the first one, waiting for the last through wait.
		run func(r *rig, k Kind, h *recHolder) []string
	}
	at := func(k Kind, st zk.Stat) string { return fmt.Sprintf("/p/%d c%d z%d", k, st.Czxid, zxidOf(k, st)) }
	cases := []scenario{
		{"stale answer after a newer delivery", func(r *rig, k Kind, h *recHolder) []string {
			old := r.f.snapshot()
			change(r.f, "/p", k, 1)
			s1 := r.stat("/p")
			h.awaitZxid(r.t, k, zxidOf(k, s1))
			r.f.staleNext("/p", old) // the read after the next change lags behind
			g := r.f.blockNext(readMethod(k, true), "/p")
			change(r.f, "/p", k, 2)
			awaitReached(r.t, g, "the lagging read")
			g.release()
			change(r.f, "/p", k, 3) // fires the watch the lagging read armed
			s3 := r.stat("/p")
			h.awaitZxid(r.t, k, zxidOf(k, s3))
			return []string{at(k, s1), at(k, s3)}
		}},
		{"deleted and re-created between two reads", func(r *rig, k Kind, h *recHolder) []string {
			r.g.OnTransition(session.Transition{State: session.StateSuspended}) // no reads meanwhile
			r.f.mustDelete("/p")
			r.f.mustCreate("/p", "v0") // same data, same version 0
			r.g.OnTransition(session.Transition{State: session.StateConnected, SessionID: 1, Generation: 1})
			s := r.stat("/p")
			h.awaitZxid(r.t, k, zxidOf(k, s))
			return []string{at(k, s)}
		}},
		{"lagging answer shows the deleted incarnation", func(r *rig, k Kind, h *recHolder) []string {
			old := r.f.snapshot()
			r.f.mustDelete("/p")
			h.await(r.t, "the deletion", func(ds []delivery) bool { return len(ds) == 2 })
			r.f.staleNext("/p", old)
			// A duplicate event, so the path is read; the answer lags behind the deletion.
			g := r.f.blockNext(readMethod(k, true), "/p")
			r.g.OnNodeEvent(zk.Event{Type: zk.EventNodeCreated, Path: "/p"})
			awaitReached(r.t, g, "the lagging read")
			g.release()
			// The lagging read armed a watch: a real re-creation is read next.
			r.f.mustCreate("/p", "v9")
			s := r.stat("/p")
			h.awaitZxid(r.t, k, zxidOf(k, s))
			return []string{fmt.Sprintf("/p/%d c0 z0 absent", k), at(k, s)}
		}},
	}
	for _, c := range cases {
		for _, kc := range bothKinds {
			t.Run(c.name+"/"+kc.name, func(t *testing.T) {
				r := newRig(t)
				r.f.mustCreate("/p", "v0")
				h := newRecHolder()
				r.acquire("/p", kc.k, h)
				r.connect()
				first := h.awaitN(t, 1)
				want := append(states(first[:1]), c.run(r, kc.k, h)...)
				wantStates(t, h.all(), want...)
			})
		}
	}
}

// readMethod is the method the engine reads kind k with.
func readMethod(k Kind, watch bool) string {
	m := "Get"
	if k == KindChildren {
		m = "Children"
	}
	if watch {
		m += "W"
	}
	return m
}

// Rule 5, read your writes: when a write through the engine (and its read-back) returns, its
// holder has been delivered that state or a later one, though the path's own read, blocked,
// has not answered; and a read issued before the write, answering after it with the state
// before the write, is not delivered.
func TestRuleReadYourWrites(t *testing.T) {
	type write struct {
		name    string
		initial bool // /p exists before
		do      func(r *rig) error
		exists  bool
	}
	connected := func(context.Context, string, string) error { return nil }
	cases := []write{
		{"set", true, func(r *rig) error { _, err := r.g.Set("/p", []byte("new"), -1); return err }, true},
		{"create and read back", false, func(r *rig) error {
			_, err := r.g.Create(context.Background(), "/p", []byte("new"), nil, CreateSpec{}, connected)
			return err
		}, true},
		{"delete and read back", true, func(r *rig) error {
			_, err := r.g.Delete(context.Background(), "/p", -1, connected)
			return err
		}, false},
	}
	for _, c := range cases {
		// before: the path's read of the state before the write is in flight when the write
		// is made, and answers after it.
		for _, before := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/read in flight=%v", c.name, before), func(t *testing.T) {
				r := newRig(t)
				if c.initial {
					r.f.mustCreate("/p", "old")
				}
				h := newRecHolder()
				var g *gate
				if before {
					// The first read's answer is computed, and held back.
					m := "GetW"
					if !c.initial {
						m = "ExistsW"
					}
					g = r.f.blockNext(m, "/p")
				}
				r.acquire("/p", KindData, h)
				r.connect()
				if before {
					awaitReached(t, g, "the first read")
				} else {
					h.awaitN(t, 1)
					// The path's read after the write's event waits until after the check
					// (its watch fired: it reads with GetW first).
					g = r.f.blockNext("GetW", "/p")
				}
				if err := c.do(r); err != nil {
					t.Fatal(err)
				}
				z := r.f.lastZxid()
				got := h.all()
				if len(got) == 0 {
					t.Fatalf("nothing delivered when the write returned")
				}
				last := got[len(got)-1]
				if last.exists != c.exists || (c.exists && last.zxid < z) {
					t.Fatalf("when the write returned: %v; want the write's state (zxid %d, exists %v)", got, z, c.exists)
				}
				g.release()
				// A later change, once delivered, shows what the released read did.
				if c.exists {
					r.f.mustSet("/p", "later")
				} else {
					r.f.mustCreate("/p", "later")
				}
				z = r.f.lastZxid()
				got = h.awaitZxid(t, KindData, z)
				// After the write's state, only the later change: the state before the write
				// never comes back.
				i := slices.IndexFunc(got, func(d delivery) bool { return d.String() == last.String() })
				if tail := got[i+1:]; len(tail) != 1 || tail[0].zxid != z {
					t.Fatalf("after the write %v: %v", last, tail)
				}
			})
		}
	}
}

// Rule 6, single flight: N holders of one (path, kind) arm one watch and cause one read per
// event, and events that arrive while a read is in flight cause exactly one more read.
func TestRuleSingleFlight(t *testing.T) {
	for _, kc := range bothKinds {
		for _, n := range []int{1, 2, 5} {
			t.Run(fmt.Sprintf("%s/%d holders", kc.name, n), func(t *testing.T) {
				r := newRig(t)
				r.f.mustCreate("/p", "v0")
				hs := make([]*recHolder, n)
				for i := range hs {
					hs[i] = newRecHolder()
					r.acquire("/p", kc.k, hs[i])
				}
				// Events for the path before the session: its one queued read serves them.
				for range 3 {
					r.g.OnNodeEvent(zk.Event{Type: zk.EventNodeDataChanged, Path: "/p"})
					r.g.OnNodeEvent(zk.Event{Type: zk.EventNodeChildrenChanged, Path: "/p"})
				}
				r.connect()
				for _, h := range hs {
					h.awaitN(t, 1)
				}
				m := readMethod(kc.k, true)
				armed := "armed data"
				if kc.k == KindChildren {
					armed = "armed child"
				}
				if c, a := r.f.count(m, "/p"), r.f.count(armed, ""); c != 1 || a != 1 {
					t.Fatalf("first contact: %d %s, %d watches armed; want 1, 1", c, m, a)
				}
				// One event: one read.
				g := r.f.blockNext(m, "/p")
				change(r.f, "/p", kc.k, 1)
				awaitReached(t, g, "the read after the event")
				// Events while it is in flight: one more read, which sees the last change.
				change(r.f, "/p", kc.k, 2) // fires the watch the blocked read armed
				for range 3 {
					r.g.OnNodeEvent(zk.Event{Type: zk.EventNodeDataChanged, Path: "/p"})
					r.g.OnNodeEvent(zk.Event{Type: zk.EventNodeChildrenChanged, Path: "/p"})
				}
				g2 := r.f.blockNext(m, "/p") // the one more read; any further one is not blocked
				g.release()
				awaitReached(t, g2, "the read after the events")
				last := zxidOf(kc.k, r.stat("/p"))
				g2.release()
				for _, h := range hs {
					h.awaitZxid(t, kc.k, last)
				}
				// A last change, delivered: any extra read would have come before its own.
				g3 := r.f.blockNext(m, "/p")
				change(r.f, "/p", kc.k, 3)
				awaitReached(t, g3, "the read after the last change")
				reads := r.f.count(m, "/p") + r.f.count(readMethod(kc.k, false), "/p")
				g3.release()
				final := zxidOf(kc.k, r.stat("/p"))
				for _, h := range hs {
					got := h.awaitZxid(t, kc.k, final)
					if len(got) != 4 {
						t.Fatalf("holder got %v", got)
					}
				}
				if reads != 4 {
					t.Fatalf("%d reads; want 4 (first, after the event, one for the events in flight, the last)", reads)
				}
			})
		}
	}
}

// Rule 7, one watch per (path, kind): a path released while its watch is armed, held again,
// is read without arming another.
func TestRuleOneWatchAfterRelease(t *testing.T) {
	for _, kc := range bothKinds {
		t.Run(kc.name, func(t *testing.T) {
			r := newRig(t)
			r.f.mustCreate("/p", "v0")
			r.connect()
			h1 := newRecHolder()
			r.acquire("/p", kc.k, h1)
			h1.awaitN(t, 1)
			r.g.Release("/p", kc.k, h1)
			h2 := newRecHolder()
			r.acquire("/p", kc.k, h2)
			h2.awaitN(t, 1)
			w, nw := r.f.count(readMethod(kc.k, true), "/p"), r.f.count(readMethod(kc.k, false), "/p")
			if w != 1 || nw != 1 {
				t.Fatalf("%d reads arming a watch, %d without; want 1, 1", w, nw)
			}
			// The watch is still the one that fires.
			z := change(r.f, "/p", kc.k, 1)
			h2.awaitZxid(t, kc.k, z)
		})
	}
}

// Rule 8: after the last release the engine forgets the path and delivers nothing more to
// the released holders.
func TestRuleReleaseFreesMemory(t *testing.T) {
	r := newRig(t)
	r.f.mustCreate("/p", "v0")
	h1, h2 := newRecHolder(), newRecHolder()
	for _, h := range []*recHolder{h1, h2} {
		for _, kc := range bothKinds {
			r.acquire("/p", kc.k, h)
		}
	}
	// Held before the first read, so each holder is delivered both first records.
	r.connect()
	h1.awaitN(t, 2)
	h2.awaitN(t, 2)
	if s := r.g.Stats(); s.Paths != 1 || s.Kinds != 2 {
		t.Fatalf("held: %+v", s)
	}
	// A write through the mirror gives the entry side state, which goes with it.
	st, err := r.g.Set("/p", []byte("v0"), -1)
	if err != nil {
		t.Fatal(err)
	}
	h1.awaitZxid(t, KindData, st.Mzxid)
	h2.awaitZxid(t, KindData, st.Mzxid)
	r.g.mu.Lock()
	aux := len(r.g.aux)
	r.g.mu.Unlock()
	if aux != 1 {
		t.Fatalf("%d entries with side state after a write; want 1", aux)
	}
	for _, h := range []*recHolder{h1, h2} {
		for _, kc := range bothKinds {
			r.g.Release("/p", kc.k, h)
		}
	}
	if s := r.g.Stats(); s.Paths != 0 || s.Kinds != 0 {
		t.Fatalf("released: %+v", s)
	}
	r.g.mu.Lock()
	left := len(r.g.entries) + len(r.g.more) + len(r.g.aux)
	r.g.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d entries left", left)
	}
	r.f.mustSet("/p", "v1")
	r.f.mustCreate("/p/c", "")
	// A new holder of the path gets the current state; the released ones nothing more.
	h3 := newRecHolder()
	r.acquire("/p", KindData, h3)
	r.acquire("/p", KindChildren, h3)
	h3.awaitN(t, 2)
	if n1, n2 := len(h1.all()), len(h2.all()); n1 != 3 || n2 != 3 {
		t.Fatalf("released holders were delivered %v and %v", h1.all(), h2.all())
	}
}

// Rule 9, resync accounting: a new session syncs, re-reads every held pair and delivers it
// once flagged resync, changed or not, after telling the listeners once.
func TestRuleResync(t *testing.T) {
	cases := []struct {
		name    string
		changes func(f *fakeConn) // during the outage
	}{
		{"unchanged", nil},
		{"changed", func(f *fakeConn) {
			f.mustSet("/a", "new")
			f.mustCreate("/b/new", "")
			f.mustCreate("/c", "")
		}},
		{"deleted", func(f *fakeConn) {
			f.mustDelete("/a")
			f.mustDelete("/b/x")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			r.f.mustCreate("/a", "a")
			r.f.mustCreate("/b", "b")
			r.f.mustCreate("/b/x", "")
			h := newRecHolder()
			r.g.AddResyncListener(h)
			r.acquire("/a", KindData, h)
			r.acquire("/b", KindChildren, h)
			r.acquire("/c", KindData, h) // missing
			r.connect()
			h.awaitN(t, 3)
			if n := r.f.count("Sync", ""); n != 0 {
				t.Fatalf("%d syncs for the first session", n)
			}
			r.expire(2, func() {
				if c.changes != nil {
					c.changes(r.f)
				}
			})
			got := h.awaitN(t, 7)
			if got[3].String() != "<resync started>" {
				t.Fatalf("resync started not before the resync's deliveries: %v", got)
			}
			seen := map[string]int{}
			for _, d := range got[4:] {
				if !d.resync || d.resyncMarker {
					t.Fatalf("not flagged resync: %v", got)
				}
				seen[d.path]++
			}
			if seen["/a"] != 1 || seen["/b"] != 1 || seen["/c"] != 1 {
				t.Fatalf("resync deliveries %v", got[4:])
			}
			if n := r.f.count("Sync", "/"); n != 1 {
				t.Fatalf("%d syncs of /", n)
			}
			// What the resync delivered is the server's state.
			for _, d := range got[4:] {
				r.f.mu.Lock()
				n := r.f.nodes[d.path]
				r.f.mu.Unlock()
				if (n != nil) != d.exists || (n != nil && zxidOf(d.k, n.stat) != d.zxid) {
					t.Fatalf("resync delivered %v; the server has %+v", d, n)
				}
			}
			// Nothing more: a later change is the next delivery, not flagged resync.
			g := r.f.blockNext("GetW", "/c")
			r.f.mustCreate("/d", "")
			r.f.mu.Lock()
			_, cExists := r.f.nodes["/c"]
			r.f.mu.Unlock()
			if cExists {
				r.f.mustSet("/c", "x")
			} else {
				r.f.mustCreate("/c", "x")
			}
			awaitReached(t, g, "the read of /c")
			g.release()
			z := r.f.lastZxid()
			got = h.awaitZxid(t, KindData, z)
			if len(got) != 8 || got[7].resync || got[7].path != "/c" {
				t.Fatalf("after the resync: %v", got[7:])
			}
			if s := r.g.Stats(); s.Resyncs != 1 {
				t.Fatalf("%d resyncs counted", s.Resyncs)
			}
		})
	}
}

// Rule 10, the new history: a resync that finds lower zxids than mirrored (the cluster was
// rebuilt) replaces the state, forgets the old history's tombstones, and says so once.
func TestRuleNewHistory(t *testing.T) {
	r := newRig(t)
	r.f.reset(1000)
	r.f.mustCreate("/a", "old")
	r.f.mustCreate("/b", "old")
	r.f.mustCreate("/t", "old")
	h := newRecHolder()
	for _, p := range []string{"/a", "/b", "/t"} {
		r.acquire(p, KindData, h)
	}
	r.connect()
	h.awaitN(t, 3)
	r.f.mustDelete("/t") // a tombstone at /t's Czxid (about 1003)
	h.awaitN(t, 4)
	r.expire(2, func() {
		r.f.reset(0) // rebuilt from empty: zxids start again
		r.f.mustCreate("/a", "new")
		r.f.mustCreate("/b", "new")
		r.f.mustCreate("/t", "new")
	})
	got := h.awaitN(t, 7)
	for _, d := range got[4:] {
		if !d.resync || !d.exists || d.czxid > 10 || d.data != "new" {
			t.Fatalf("resync delivered %v; want the new history's state", got[4:])
		}
	}
	if n := r.logs.count(slog.LevelWarn); n != 1 {
		t.Fatalf("%d warnings; want 1 for the resync", n)
	}
	// The new history goes on: its changes are delivered, /t's old tombstone forgotten.
	r.f.mustSet("/t", "newer")
	got = h.await(t, "/t's change", func(ds []delivery) bool { return len(ds) > 7 })
	if last := got[7]; len(got) != 8 || last.path != "/t" || last.data != "newer" || last.resync {
		t.Fatalf("after the resync: %v", got[7:])
	}
	// A second resync in the same history warns no more.
	r.expire(3, nil)
	h.awaitN(t, len(got)+3)
	if n := r.logs.count(slog.LevelWarn); n != 1 {
		t.Fatalf("%d warnings after a resync in the same history", n)
	}
}

// Rule 11: a read answered after the session changed is not trusted and is read again.
func TestRuleAnswerFromAnotherSession(t *testing.T) {
	r := newRig(t)
	r.f.mustCreate("/p", "v0")
	r.connect()
	h := newRecHolder()
	r.g.AddResyncListener(h)
	g := r.f.blockNext("GetW", "/p")
	r.acquire("/p", KindData, h)
	awaitReached(t, g, "the first read")
	// The session changes while the read is in flight, and so does the node; the new
	// session's resync cannot re-read the path before the answer is in.
	r.expire(2, func() { r.f.mustSet("/p", "v1") })
	g.release()
	z := r.stat("/p").Mzxid
	got := h.awaitZxid(t, KindData, z)
	for _, d := range got {
		if !d.resyncMarker && d.zxid < z {
			t.Fatalf("the other session's answer was delivered: %v", got)
		}
	}
}

// Rule 12: a read that fails for the connection is read again, and delivered once the
// connection answers.
func TestRuleConnErrorReadAgain(t *testing.T) {
	for _, err := range []error{zk.ErrConnectionClosed, zk.ErrSessionExpired, zk.ErrNoServer, zk.ErrClosing} {
		for _, kc := range bothKinds {
			t.Run(fmt.Sprintf("%v/%s", err, kc.name), func(t *testing.T) {
				r := newRig(t)
				r.f.mustCreate("/p", "v0")
				m := readMethod(kc.k, true)
				r.f.failNext(m, "/p", err, 2)
				h := newRecHolder()
				r.acquire("/p", kc.k, h)
				r.connect()
				got := h.awaitN(t, 1)
				if got[0].err != nil || !got[0].exists {
					t.Fatalf("delivered %v", got)
				}
				if n := r.f.count(m, "/p"); n != 3 {
					t.Fatalf("%d reads; want 3", n)
				}
			})
		}
	}
}

// Rule 13: a read refused for permission delivers the error (as ReadErr makes it), arms no
// watch, and is retried until it succeeds.
func TestRuleNoAuth(t *testing.T) {
	for _, kc := range bothKinds {
		t.Run(kc.name, func(t *testing.T) {
			r := newRig(t)
			r.f.mustCreate("/p", "v0")
			r.f.setNoAuth("/p", true)
			h := newRecHolder()
			r.acquire("/p", kc.k, h)
			r.connect()
			got := h.awaitN(t, 1)
			var re *errRead
			if !errors.As(got[0].err, &re) || re.path != "/p" || !errors.Is(got[0].err, zk.ErrNoAuth) {
				t.Fatalf("delivered %v; want ReadErr's no-auth error", got)
			}
			if n := r.f.count("armed data", "") + r.f.count("armed child", ""); n != 0 {
				t.Fatalf("%d watches armed for a path we may not read", n)
			}
			r.f.setNoAuth("/p", false) // the permission comes back, with no event
			got = h.await(t, "the retry", func(ds []delivery) bool { return len(ds) >= 2 })
			if got[1].err != nil || !got[1].exists {
				t.Fatalf("after the retry: %v", got)
			}
		})
	}
}

// Rule 14: holders of different kinds of one path each get only their kind.
func TestRuleKindsApart(t *testing.T) {
	r := newRig(t)
	r.f.mustCreate("/p", "v0")
	hd, hk, hb := newRecHolder(), newRecHolder(), newRecHolder()
	r.acquire("/p", KindData, hd)
	r.acquire("/p", KindChildren, hk)
	r.acquire("/p", KindData, hb)
	r.acquire("/p", KindChildren, hb)
	r.connect()
	zd := r.f.mustSet("/p", "v1")
	zc := r.f.mustCreate("/p/c", "")
	hd.awaitZxid(t, KindData, zd)
	hk.awaitZxid(t, KindChildren, zc)
	hb.awaitZxid(t, KindData, zd)
	hb.awaitZxid(t, KindChildren, zc)
	// A barrier per kind: one more change of each.
	zd = r.f.mustSet("/p", "v2")
	zc = r.f.mustDelete("/p/c")
	hd.awaitZxid(t, KindData, zd)
	hk.awaitZxid(t, KindChildren, zc)
	for name, c := range map[string]struct {
		h    *recHolder
		only Kind
	}{"data holder": {hd, KindData}, "children holder": {hk, KindChildren}} {
		for _, d := range c.h.all() {
			if d.k != c.only {
				t.Fatalf("%s delivered %v", name, c.h.all())
			}
		}
	}
}

// Rule 15: a holder that acquires a mirrored pair gets its current record, flagged as it
// was delivered, before any delivery.
func TestRuleAcquireCurrent(t *testing.T) {
	cases := []struct {
		name        string
		prepare     func(r *rig, h *recHolder)
		wantRec     bool
		wantResync  bool
		wantExists  bool
		wantReadNew bool // the acquire starts a first read
	}{
		{"before first contact", func(r *rig, h *recHolder) {}, false, false, false, true},
		{"only the other kind mirrored", func(r *rig, h *recHolder) {
			r.acquire("/p", KindChildren, h)
			h.awaitN(r.t, 1)
		}, false, false, false, true},
		{"mirrored", func(r *rig, h *recHolder) {
			r.acquire("/p", KindData, h)
			h.awaitN(r.t, 1)
		}, true, false, true, false},
		{"after a resync", func(r *rig, h *recHolder) {
			r.acquire("/p", KindData, h)
			h.awaitN(r.t, 1)
			r.expire(2, nil)
			h.awaitN(r.t, 2)
		}, true, true, true, false},
		{"after a change that followed a resync", func(r *rig, h *recHolder) {
			r.acquire("/p", KindData, h)
			h.awaitN(r.t, 1)
			r.expire(2, nil)
			h.awaitN(r.t, 2)
			r.f.mustSet("/p", "v1")
			h.awaitN(r.t, 3)
		}, true, false, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			r.f.mustCreate("/p", "v0")
			r.connect()
			c.prepare(r, newRecHolder())
			h := newRecHolder()
			called := 0
			var gotRec *Record
			var gotResync bool
			reads := r.f.count("GetW", "/p") + r.f.count("Get", "/p")
			err := r.g.Acquire("/p", KindData, h, func(rec *Record, resynced bool) {
				called++
				gotRec, gotResync = rec, resynced
				if n := len(h.all()); n != 0 {
					t.Errorf("%d deliveries before current", n)
				}
			})
			if err != nil || called != 1 {
				t.Fatalf("acquire: %v, current called %d times", err, called)
			}
			if (gotRec != nil) != c.wantRec || gotResync != c.wantResync {
				t.Fatalf("current(%v, %v); want a record %v, resynced %v", gotRec, gotResync, c.wantRec, c.wantResync)
			}
			if gotRec != nil {
				st := r.stat("/p")
				if gotRec.Exists(KindData) != c.wantExists || gotRec.Stat(KindData).Mzxid != st.Mzxid {
					t.Fatalf("current record at %d; the server's at %d", gotRec.Stat(KindData).Mzxid, st.Mzxid)
				}
			}
			if c.wantReadNew {
				h.awaitN(t, 1)
			} else {
				// Nothing new to read: the next delivery is the next change.
				z := r.f.mustSet("/p", "next")
				got := h.awaitZxid(t, KindData, z)
				if len(got) != 1 {
					t.Fatalf("a holder that started from current was delivered %v", got)
				}
				if n := r.f.count("GetW", "/p") + r.f.count("Get", "/p"); n != reads+1 {
					t.Fatalf("%d reads after acquire; want 1, for the change", n-reads)
				}
			}
		})
	}
}

// Rule 16: after Stop no read starts, Acquire is refused and a read-back waiting for the
// connection gives up.
func TestRuleStop(t *testing.T) {
	r := newRig(t)
	r.f.mustCreate("/p", "v0")
	r.connect()
	h := newRecHolder()
	r.acquire("/p", KindData, h)
	r.acquire("/p", KindChildren, h)
	h.awaitN(t, 2)
	// A read-back that keeps meeting a lost connection.
	r.f.failNext("Get", "/p", zk.ErrConnectionClosed, 1000)
	g := r.f.blockNext("Get", "/p")
	rbErr := make(chan error, 1)
	go func() {
		rbErr <- r.g.ReadBack(context.Background(), "/p", false, func(context.Context, string, string) error { return nil })
	}()
	awaitReached(t, g, "the read-back")
	reads := 0
	for _, m := range []string{"Get", "GetW", "Children", "ChildrenW", "Exists", "ExistsW"} {
		reads += r.f.count(m, "")
	}
	r.g.Stop()
	g.release()
	select {
	case err := <-rbErr:
		if !errors.Is(err, ErrStopped) {
			t.Fatalf("read-back after stop: %v", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("read-back did not end after stop")
	}
	if err := r.g.Acquire("/q", KindData, h, nil); !errors.Is(err, ErrStopped) {
		t.Fatalf("acquire after stop: %v", err)
	}
	r.f.mustSet("/p", "v1") // an event after Stop
	r.g.OnNodeEvent(zk.Event{Type: zk.EventNodeChildrenChanged, Path: "/p"})
	r.g.OnWatchesLost()
	r.f.releaseAll()
	r.g.Close() // every goroutine of the engine has ended
	after := 0
	for _, m := range []string{"Get", "GetW", "Children", "ChildrenW", "Exists", "ExistsW"} {
		after += r.f.count(m, "")
	}
	if after != reads {
		t.Fatalf("%d reads after Stop", after-reads)
	}
	if n := len(h.all()); n != 2 {
		t.Fatalf("delivered after Stop: %v", h.all())
	}
}

// Rule 17: a node event never waits for the engine's lock, and is applied once it is free.
func TestRuleEventWhileLocked(t *testing.T) {
	for _, kc := range bothKinds {
		t.Run(kc.name, func(t *testing.T) {
			r := newRig(t)
			r.f.mustCreate("/p", "v0")
			h := newRecHolder()
			r.acquire("/p", kc.k, h)
			r.connect()
			h.awaitN(t, 1)
			unlock := r.g.HoldLock()
			done := make(chan int64)
			go func() { done <- change(r.f, "/p", kc.k, 1) }() // fires the event
			var z int64
			select {
			case z = <-done:
			case <-time.After(hangGuard):
				unlock()
				<-done
				t.Fatal("the event waited for the engine's lock")
			}
			unlock()
			h.awaitZxid(t, kc.k, z)
		})
	}
}

// Rule 18: when the watches could not be restored after a reconnect, every held pair is
// read again, arming its watch again.
func TestRuleWatchesLost(t *testing.T) {
	r := newRig(t)
	r.f.mustCreate("/a", "a")
	r.f.mustCreate("/b", "b")
	h := newRecHolder()
	r.acquire("/a", KindData, h)
	r.acquire("/b", KindChildren, h)
	r.connect()
	h.awaitN(t, 2)
	// The server lost the session's watches: changes now fire nothing.
	r.g.OnTransition(session.Transition{State: session.StateSuspended})
	r.f.dropSessionWatches()
	za := r.f.mustSet("/a", "a1")
	zb := r.f.mustCreate("/b/c", "")
	r.g.OnWatchesLost()
	r.g.OnTransition(session.Transition{State: session.StateConnected, SessionID: 1, Generation: 1})
	h.awaitZxid(t, KindData, za)
	got := h.awaitZxid(t, KindChildren, zb)
	for _, d := range got[2:] {
		if d.resync {
			t.Fatalf("a re-arm is no resync: %v", got)
		}
	}
	if r.f.count("GetW", "/a") != 2 || r.f.count("ChildrenW", "/b") != 2 {
		t.Fatalf("watches not armed again: GetW %d, ChildrenW %d", r.f.count("GetW", "/a"), r.f.count("ChildrenW", "/b"))
	}
	// And they fire again.
	za = r.f.mustSet("/a", "a2")
	h.awaitZxid(t, KindData, za)
}

// Rule 9, continued: a resync whose Sync fails reads nothing and runs on the next
// connection, once.
func TestRuleResyncAfterFailedSync(t *testing.T) {
	r := newRig(t)
	r.f.mustCreate("/p", "v0")
	h := newRecHolder()
	r.g.AddResyncListener(h)
	r.acquire("/p", KindData, h)
	r.connect()
	h.awaitN(t, 1)
	r.f.failNext("Sync", "/", zk.ErrConnectionClosed, 1)
	g := r.f.blockNext("Sync", "/")
	r.expire(2, func() { r.f.mustSet("/p", "v1") })
	awaitReached(t, g, "the first Sync")
	g.release()
	// The connection drops and comes back, same session.
	r.g.OnTransition(session.Transition{State: session.StateSuspended})
	r.g.OnTransition(session.Transition{State: session.StateConnected, SessionID: 2, Generation: r.gen})
	z := r.stat("/p").Mzxid
	got := h.awaitZxid(t, KindData, z)
	wantStates(t, got, "/p/0 c1 z1", "<resync started>", fmt.Sprintf("/p/0 c1 z%d resync", z))
	if n := r.f.count("Sync", "/"); n != 2 {
		t.Fatalf("%d syncs; want 2", n)
	}
	if n := r.f.count("GetW", "/p") + r.f.count("Get", "/p"); n != 2 {
		t.Fatalf("%d reads; want 2, the first and the resync's", n)
	}
}

// Rules 2 to 4 under churn: writes by other clients race the engine's reads, some answers
// lag behind and some reads meet a lost connection. The deliveries only move forward (a new
// state newer than the last existing one, never two absences in a row), and once the faults
// stop the mirror ends at the server's state, for both kinds. Lagging answers go to the
// data kind's reads only: a server that answers "absent" from behind fires, as it catches
// up, the watches the answer armed, which the fake does not model; the children kind's
// reads check existence with such watches.
func TestRuleMonotonicUnderChurn(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			r := newRig(t)
			r.f.staleFor = func(m string) bool { return m == "Get" || m == "GetW" }
			rnd := rand.New(rand.NewPCG(seed, 13))
			r.f.mustCreate("/p", "v0")
			h := newRecHolder()
			r.acquire("/p", KindData, h)
			r.acquire("/p", KindChildren, h)
			r.connect()
			var snaps []map[string]*fakeNode
			kids := map[string]bool{}
			exists := true
			for i := range 80 {
				switch op := rnd.IntN(10); {
				case op < 3 && exists:
					r.f.mustSet("/p", fmt.Sprint("v", i))
				case op < 5 && exists:
					c := fmt.Sprint("/p/c", rnd.IntN(4))
					if kids[c] {
						r.f.mustDelete(c)
					} else {
						r.f.mustCreate(c, "")
					}
					kids[c] = !kids[c]
				case op == 5 && exists:
					for c, ok := range kids {
						if ok {
							r.f.mustDelete(c)
						}
					}
					clear(kids)
					r.f.mustDelete("/p")
					exists = false
				case op == 6 && !exists, op < 5 && !exists:
					r.f.mustCreate("/p", fmt.Sprint("v", i))
					exists = true
				case op == 7 && len(snaps) > 0 && r.f.staleQueued("/p") == 0:
					// One lagging answer at a time: ZooKeeper sends a session's watch events in
					// order with its replies, so answers that keep lagging behind an event the
					// session has seen are no server's.
					r.f.staleNext("/p", snaps[rnd.IntN(len(snaps))])
				case op == 8:
					m := []string{"Get", "GetW", "Children", "ChildrenW", "Exists", "ExistsW"}[rnd.IntN(6)]
					r.f.failNext(m, "/p", zk.ErrConnectionClosed, 1)
				default:
					snaps = append(snaps, r.f.snapshot())
				}
			}
			r.f.clearFaults()
			// A last change of each kind, then the mirror must show the server's state.
			if !exists {
				r.f.mustCreate("/p", "final")
			}
			r.f.mustSet("/p", "final")
			r.f.mustCreate("/p/final", "")
			st := r.stat("/p")
			h.awaitZxid(t, KindChildren, st.Pzxid)
			got := h.awaitZxid(t, KindData, st.Mzxid)
			for _, k := range []Kind{KindData, KindChildren} {
				var lastC, lastZ int64
				prevAbsent := false
				var last delivery
				for _, d := range got {
					if d.k != k {
						continue
					}
					last = d
					if d.resync || d.err != nil {
						t.Fatalf("unexpected %v", d)
					}
					if !d.exists {
						if prevAbsent {
							t.Fatalf("two absences in a row: %v", got)
						}
						prevAbsent = true
						continue
					}
					if lastC != 0 && !ZxidAfter(d.czxid, d.zxid, lastC, lastZ) {
						t.Fatalf("kind %d went back from c%d z%d to %v: %v", k, lastC, lastZ, d, got)
					}
					lastC, lastZ, prevAbsent = d.czxid, d.zxid, false
				}
				if !last.exists || last.czxid != st.Czxid || last.zxid != zxidOf(k, st) {
					t.Fatalf("kind %d ends at %v; the server is at %+v", k, last, st)
				}
			}
			for i := len(got) - 1; i >= 0; i-- {
				if d := got[i]; d.k == KindData {
					if d.data != "final" {
						t.Fatalf("data %q", d.data)
					}
					break
				}
			}
		})
	}
}
