package zkmirror

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/zkmirror/zkmirror/internal/engine"
	"github.com/zkmirror/zkmirror/internal/inbox"
)

// read is one read result handed to the engine as a worker would apply it.
type read struct {
	path   string
	k      kind
	exists bool
	czxid  int64
	zxid   int64 // Mzxid (data) or Pzxid (children)
	names  []string
	err    error
}

// fakeSource is the engine as a Tree sees it, without reads: the test hands the Tree
// records as the engine would.
type fakeSource struct {
	held map[string][2]bool
	recs map[string]*engine.Record
}

func (f *fakeSource) Acquire(spath string, k kind, _ engine.Holder, current func(*engine.Record, bool)) error {
	h := f.held[spath]
	h[k] = true
	f.held[spath] = h
	if r := f.recs[spath]; r.Has(k) {
		current(r, false)
	} else {
		current(nil, false)
	}
	return nil
}

func (f *fakeSource) Release(spath string, k kind, _ engine.Holder) {
	h := f.held[spath]
	h[k] = false
	if h == [2]bool{} {
		delete(f.held, spath)
		delete(f.recs, spath)
		return
	}
	f.held[spath] = h
	f.recs[spath] = f.recs[spath].Without(k)
}

func (f *fakeSource) AddResyncListener(engine.ResyncListener)    {}
func (f *fakeSource) RemoveResyncListener(engine.ResyncListener) {}

// treeHarness is a Tree over a source that never reads: the test feeds it reads.
type treeHarness struct {
	t   *testing.T
	src *fakeSource
	tr  *Tree
	sub *treeSub
}

func newTreeHarness(t *testing.T, root string, opts ...TreeOption) *treeHarness {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	src := &fakeSource{held: map[string][2]bool{}, recs: map[string]*engine.Record{}}
	cfg := treeConfig{maxDepth: -1}
	for _, o := range opts {
		o(&cfg)
	}
	tr := newTree(src, "", log, func(*Tree) {}, root, cfg)
	sub := &treeSub{wake: inbox.NewSignal(), pend: make(map[string]*pendingEvent)}
	tr.mu.Lock()
	tr.addLocked(tr.sroot, 0)
	tr.checkLocked()
	tr.subs[sub] = struct{}{}
	tr.mu.Unlock()
	return &treeHarness{t: t, src: src, tr: tr, sub: sub}
}

// apply hands the Tree reads in order, as the engine would deliver them, and returns the
// events they queued.
func (h *treeHarness) apply(reads ...read) []string {
	h.t.Helper()
	h.tr.mu.Lock()
	defer h.tr.mu.Unlock()
	for _, r := range reads {
		if !h.src.held[r.path][r.k] {
			continue // released: the engine drops its reads
		}
		st := engine.Stat{Czxid: r.czxid}
		if r.k == kindData {
			st.Mzxid = r.zxid
		} else {
			st.Pzxid = r.zxid
		}
		var data []byte
		if r.exists {
			data = []byte(fmt.Sprintf("%s@%d", r.path, r.zxid))
		}
		rec := h.src.recs[r.path].With(r.k, r.exists, data, slices.Clone(r.names), st, r.err)
		h.src.recs[r.path] = rec
		h.tr.onRecordLocked(r.path, r.k, rec, false)
	}
	var out []string
	for {
		p, key, ok := h.sub.peek()
		if !ok {
			return out
		}
		ev := p.ev
		h.sub.delivered(key, p)
		s := ev.Type.String() + " " + ev.Path
		if ev.Value.Err != nil {
			s += " err"
		}
		if ev.Value.Exists != (ev.Type != EventDeleted) || ev.Value.Path != ev.Path {
			s += fmt.Sprintf(" value %+v", ev.Value)
		}
		out = append(out, s)
	}
}

func (h *treeHarness) children(path string) string {
	names, ok := h.tr.Children(path)
	if !ok {
		return "-"
	}
	return "[" + strings.Join(names, " ") + "]"
}

func (h *treeHarness) present(path string) bool {
	_, ok := h.tr.Get(path)
	return ok
}

func data(path string, exists bool, czxid, mzxid int64) read {
	return read{path: path, k: kindData, exists: exists, czxid: czxid, zxid: mzxid}
}

func kids(path string, exists bool, czxid, pzxid int64, names ...string) read {
	return read{path: path, k: kindChildren, exists: exists, czxid: czxid, zxid: pzxid, names: names}
}

// The Tree's steps between reads (contract 10): an event is queued only once the Tree shows
// it, consistently across paths.
func TestTreeStepsBetweenReads(t *testing.T) {
	type check struct {
		path     string
		present  bool
		children string // "-": Children answers false
	}
	type step struct {
		reads  []read
		events []string
		checks []check
	}
	loaded := step{
		reads:  []read{data("/r", true, 1, 1), kids("/r", true, 1, 2, "c"), data("/r/c", true, 2, 2), kids("/r/c", true, 2, 2)},
		events: []string{"Created /r", "Created /r/c"},
		checks: []check{{"/r", true, "[c]"}, {"/r/c", true, "[]"}},
	}
	for _, tc := range []struct {
		name  string
		opts  []TreeOption
		steps []step
	}{
		{"a child is Created once both its kinds are read", nil, []step{
			{reads: []read{data("/r", true, 1, 1), kids("/r", true, 1, 2, "c"), data("/r/c", true, 2, 2)},
				events: []string{"Created /r"},
				checks: []check{{"/r", true, "[c]"}, {"/r/c", false, "-"}}},
			{reads: []read{kids("/r/c", true, 2, 2)},
				events: []string{"Created /r/c"},
				checks: []check{{"/r/c", true, "[]"}}},
		}},
		{"children read before data: nothing below until the node is present", nil, []step{
			{reads: []read{kids("/r", true, 1, 2, "c")},
				checks: []check{{"/r", false, "-"}}},
			{reads: []read{data("/r", true, 1, 1)},
				events: []string{"Created /r"},
				checks: []check{{"/r", true, "[c]"}, {"/r/c", false, "-"}}},
		}},
		{"a child's own deletion waits for its parent's children", nil, []step{
			loaded,
			{reads: []read{data("/r/c", false, 0, 0), kids("/r/c", false, 0, 0)},
				checks: []check{{"/r", true, "[c]"}, {"/r/c", true, "[]"}}},
			{reads: []read{kids("/r", true, 1, 3)},
				events: []string{"Deleted /r/c"},
				checks: []check{{"/r", true, "[]"}, {"/r/c", false, "-"}}},
		}},
		{"the parent's children first", nil, []step{
			loaded,
			{reads: []read{kids("/r", true, 1, 3)},
				events: []string{"Deleted /r/c"},
				checks: []check{{"/r", true, "[]"}, {"/r/c", false, "-"}}},
			{reads: []read{data("/r/c", false, 0, 0)}},
		}},
		{"a child re-created before its parent's children are read again", nil, []step{
			loaded,
			{reads: []read{data("/r/c", false, 0, 0), data("/r/c", true, 5, 5)},
				events: []string{"Changed /r/c"},
				checks: []check{{"/r", true, "[c]"}, {"/r/c", true, "[]"}}},
			{reads: []read{kids("/r/c", false, 0, 0), kids("/r/c", true, 5, 5), kids("/r", true, 1, 6, "c")},
				checks: []check{{"/r", true, "[c]"}, {"/r/c", true, "[]"}}},
		}},
		{"kinds read from two incarnations", nil, []step{
			{reads: []read{data("/r", true, 1, 1), kids("/r", true, 4, 4)},
				checks: []check{{"/r", false, "-"}}},
			{reads: []read{data("/r", true, 4, 4)},
				events: []string{"Created /r"},
				checks: []check{{"/r", true, "[]"}}},
		}},
		{"the root's deletion removes its children first", nil, []step{
			loaded,
			{reads: []read{data("/r", false, 0, 0)},
				events: []string{"Deleted /r/c", "Deleted /r"},
				checks: []check{{"/r", false, "-"}, {"/r/c", false, "-"}}},
			{reads: []read{kids("/r", false, 0, 0), data("/r", true, 7, 7), kids("/r", true, 7, 7)},
				events: []string{"Created /r"},
				checks: []check{{"/r", true, "[]"}}},
		}},
		{"the root's children read first says it is gone", nil, []step{
			loaded,
			{reads: []read{kids("/r", false, 0, 0)},
				events: []string{"Deleted /r/c", "Deleted /r"},
				checks: []check{{"/r", false, "-"}, {"/r/c", false, "-"}}},
			{reads: []read{data("/r", false, 0, 0)}},
		}},
		{"children that cannot be read", nil, []step{
			loaded,
			{reads: []read{{path: "/r", k: kindChildren, exists: true, czxid: 1, zxid: 2, err: ErrNoAuth}},
				events: []string{"Changed /r err", "Deleted /r/c"},
				checks: []check{{"/r", true, "-"}, {"/r/c", false, "-"}}},
			{reads: []read{kids("/r", true, 1, 2, "c")},
				events: []string{"Changed /r"},
				checks: []check{{"/r", true, "[c]"}, {"/r/c", false, "-"}}},
			{reads: []read{data("/r/c", true, 2, 2), kids("/r/c", true, 2, 2)},
				events: []string{"Created /r/c"},
				checks: []check{{"/r/c", true, "[]"}}},
		}},
		{"names only", []TreeOption{NamesOnly()}, []step{
			{reads: []read{kids("/r", true, 1, 2, "c"), kids("/r/c", true, 2, 2)},
				events: []string{"Created /r", "Created /r/c"},
				checks: []check{{"/r", true, "[c]"}, {"/r/c", true, "[]"}}},
			{reads: []read{kids("/r/c", false, 0, 0)},
				checks: []check{{"/r", true, "[c]"}, {"/r/c", true, "[]"}}},
			{reads: []read{kids("/r", true, 1, 3)},
				events: []string{"Changed /r", "Deleted /r/c"},
				checks: []check{{"/r", true, "[]"}}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTreeHarness(t, "/r", tc.opts...)
			for i, st := range tc.steps {
				if got := h.apply(st.reads...); !slices.Equal(got, st.events) {
					t.Fatalf("step %d: events %q, want %q", i, got, st.events)
				}
				for _, c := range st.checks {
					if got := h.present(c.path); got != c.present {
						t.Fatalf("step %d: Get(%s) present=%v, want %v", i, c.path, got, c.present)
					}
					if got := h.children(c.path); got != c.children {
						t.Fatalf("step %d: Children(%s) %s, want %s", i, c.path, got, c.children)
					}
				}
			}
		})
	}
}

// goroutineID tells goroutines apart, and the dispatcher knows its own.
func TestGoroutineID(t *testing.T) {
	here := goroutineID()
	if here == 0 {
		t.Fatal("no goroutine id")
	}
	other := make(chan uint64)
	go func() { other <- goroutineID() }()
	if id := <-other; id == 0 || id == here {
		t.Fatalf("ids %d and %d", here, id)
	}
	d := newDispatcher(slog.New(slog.NewTextHandler(io.Discard, nil)))
	onLoop := make(chan bool, 1)
	d.enqueue(runFunc(func() { onLoop <- d.onLoop() }))
	if !<-onLoop {
		t.Fatal("a callback is not on the dispatcher's goroutine")
	}
	if d.onLoop() {
		t.Fatal("the test goroutine is on the dispatcher's")
	}
	// Closed from a callback, the dispatcher stops without waiting for itself, then ends.
	closed := make(chan struct{})
	d.enqueue(runFunc(func() { d.close(); close(closed) }))
	<-closed
	d.grp.Wait()
	d.close()
}

type runFunc func()

func (f runFunc) run(*slog.Logger) { f() }
