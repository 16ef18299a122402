package zkmirror

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"runtime/debug"
	"sort"
	"strconv"
	"sync"

	"github.com/zkmirror/zkmirror/internal/engine"
	"github.com/zkmirror/zkmirror/internal/inbox"
	"github.com/zkmirror/zkmirror/internal/run"
)

// TreeOption configures Mirror.Tree.
type TreeOption func(*treeConfig)

type treeConfig struct {
	maxDepth  int // -1: unlimited
	depthSet  bool
	namesOnly bool
	filter    func(path string) bool
}

// MaxDepth limits the Tree to n levels below the root: 0 mirrors the root only, 1 the root
// and its children, and so on. Nodes at the deepest level are mirrored without their
// children. n below 0 is ErrInvalidArgument.
func MaxDepth(n int) TreeOption { return func(c *treeConfig) { c.maxDepth, c.depthSet = n, true } }

// NamesOnly mirrors the tree's shape without node data: every node's child names and Stat
// are kept, Value.Data is nil, and a Changed event means the node's children changed.
func NamesOnly() TreeOption { return func(c *treeConfig) { c.namesOnly = true } }

// Filter keeps only the paths (as given to Mirror.Tree, below the root) for which keep
// returns true; a path left out is not mirrored, nor is anything below it. The root is
// always mirrored. keep runs with the Tree's lock held: it must be fast and must not call
// the Tree or the Mirror. A keep that panics is recovered and logged (Error, with the path and
// the panic value), and the path is left out as if keep had returned false.
func Filter(keep func(path string) bool) TreeOption {
	if keep == nil {
		panic("zkmirror: Filter called with a nil func")
	}
	return func(c *treeConfig) { c.filter = keep }
}

// EventType is the kind of a TreeEvent.
type EventType int

// The tree event types.
const (
	EventCreated  EventType = iota + 1 // a node appeared
	EventChanged                       // a node's data (children, for NamesOnly) changed, or it was deleted and re-created
	EventDeleted                       // a node disappeared
	EventResynced                      // a resync after session expiry ended (Path is the root)
)

func (t EventType) String() string {
	switch t {
	case EventCreated:
		return "Created"
	case EventChanged:
		return "Changed"
	case EventDeleted:
		return "Deleted"
	case EventResynced:
		return "Resynced"
	}
	return "EventType(" + strconv.Itoa(int(t)) + ")"
}

// TreeEvent is one change in a Tree. Value is the node's snapshot after the change
// (Exists=false for EventDeleted). Resync is set on events found by a resync after session
// expiry.
type TreeEvent struct {
	Type   EventType
	Path   string
	Value  Value
	Resync bool
}

// Tree mirrors a subtree: every node's data and children below a root, kept live.
//
// Guarantees:
//   - The root is never created; a missing root is mirrored as missing and its creation is
//     seen. Synced returns once the initial load is done, also for a missing root.
//   - Get, Children, Len and View answer from the mirror, without a server round trip.
//     View returns an immutable point-in-time view; taking one is O(1).
//   - Events streams Created, Changed and Deleted events, per path in zxid order. For a slow
//     reader, pending events of one path conflate (Created+Changed → Created with the latest
//     Value; Changed+Changed → Changed; Created+Deleted → nothing; Deleted+Created → Changed
//     with the new Value, whose Czxid tells the re-creation), so memory stays bounded by the
//     number of paths and the final state is never lost; across paths, events come in the
//     order of their first occurrence. Events delivers what happens after the call; a reader
//     that subscribes before Synced sees the initial load as Created events.
//   - When an event is delivered, the Tree already reflects it (or a later state),
//     consistently across paths: a Created node is listed in its parent's Children and its
//     own Get and Children answer (Children only where they are mirrored, above MaxDepth's
//     last level); a Deleted node is gone from its parent's Children, and so is everything
//     below it, Deleted before it. A parent is Created before its children.
//   - A node the Tree may not read (ErrNoAuth, for its data or its children) is present
//     with that error in Get's Value.Err; its Children answer false (see Children).
//   - After a session expiry the Tree is re-read like every mirrored path; only real
//     differences become events, flagged Resync, followed by one EventResynced.
//   - Watches are shared with every Node handle on the same paths: one per (path, kind).
//
// A Tree is safe for concurrent use. Close it when done.
//
// The Tree is one of the engine's holders: the engine hands it each new record of a path
// it holds in O(1) (Deliver, into the in queue), and the Tree's own goroutine applies them
// under the Tree's lock, adding and releasing children as the records say, never with the
// engine's lock held. Get, Children, Len and View take only the Tree's lock. Each Events
// reader has its own goroutine.
//
// Lock order: mu, then the engine's lock, then in's. Deliver and ResyncStarted run with
// the engine's lock held and take only in's.
type Tree struct {
	m     *Mirror
	g     treeSource // the Mirror's engine
	root  string     // as given
	sroot string     // on the server
	cfg   treeConfig

	in  inbox.Queue[delivery] // records from the engine, applied by the apply goroutine
	grp run.Group             // the apply goroutine and the event pumps

	mu sync.Mutex // guards the fields below
	// released: paths released while deliveries of them may still be queued, with the
	// number of deliveries put before the release; those are stale (see apply).
	released    map[string]uint64
	nodes       map[string]tnode // by server path; copied on write while a View shares it
	shared      bool
	present     int
	pendingInit int
	synced      chan struct{}
	isSynced    bool
	resyncLeft  int
	resyncing   bool
	diffing     int // children diffs under way: counts are not final until they end
	subs        map[*treeSub]struct{}
	closed      bool
	closedCh    chan struct{}
}

// tnode is one node of a Tree.
type tnode struct {
	rec   *engine.Record // the path's state when the Tree last heard of it
	depth int32
	flags tflags
}

type tflags uint16

// Per kind, the flag for the children kind is the data kind's shifted left by one.
const (
	tHolds   tflags = 1 << iota // the Tree holds the data kind
	_                           // the children kind
	tContact                    // the Tree has had first contact with the data kind
	_
	tResync // the data kind's re-read is awaited by a resync
	_
	tPresent // the node exists, as far as the Tree is concerned
	// tRestored: the data kind shows the state restored from the snapshot file; it has had
	// no contact with a server yet.
	tRestored
	_
)

func (f tflags) is(flag tflags, k kind) bool { return f&(flag<<k) != 0 }

func (f *tflags) set(flag tflags, k kind, on bool) {
	if on {
		*f |= flag << k
	} else {
		*f &^= flag << k
	}
}

// Tree starts mirroring the subtree at root and returns at once; use Synced to wait for the
// initial load. A bad root is ErrInvalidPath, a negative MaxDepth ErrInvalidArgument; after
// the Mirror's Close, ErrClosed. A nil TreeOption panics.
func (m *Mirror) Tree(root string, opts ...TreeOption) (*Tree, error) {
	if err := m.checkPath(root); err != nil {
		return nil, err
	}
	cfg := treeConfig{maxDepth: -1}
	for _, o := range opts {
		if o == nil {
			panic("zkmirror: Tree called with a nil TreeOption")
		}
		o(&cfg)
	}
	if cfg.depthSet && cfg.maxDepth < 0 {
		return nil, newErrf("tree", root, ErrInvalidArgument, "MaxDepth(%d)", cfg.maxDepth)
	}
	t := newTree(m, m.eng, root, cfg)
	m.mu.Lock()
	if m.trees == nil {
		m.mu.Unlock()
		return nil, newErr("tree", root, ErrClosed, nil)
	}
	m.trees[t] = struct{}{}
	m.mu.Unlock()
	t.g.AddResyncListener(t)
	t.mu.Lock()
	ok := t.addLocked(t.sroot, 0)
	t.checkLocked()
	t.mu.Unlock()
	if !ok { // the Mirror closed meanwhile
		t.Close()
		return nil, newErr("tree", root, ErrClosed, nil)
	}
	t.grp.Go(t.apply)
	return t, nil
}

// treeSource is what a Tree asks of the engine.
type treeSource interface {
	Acquire(spath string, k kind, h engine.Holder, current func(rec *engine.Record, resynced bool)) error
	Release(spath string, k kind, h engine.Holder)
	AddResyncListener(l engine.ResyncListener)
	RemoveResyncListener(l engine.ResyncListener)
}

func newTree(m *Mirror, src treeSource, root string, cfg treeConfig) *Tree {
	return &Tree{
		m: m, g: src, root: root, sroot: m.root.toServer(root), cfg: cfg,
		in:       inbox.NewQueue[delivery](),
		grp:      run.NewGroup(),
		released: make(map[string]uint64),
		nodes:    make(map[string]tnode),
		synced:   make(chan struct{}),
		subs:     make(map[*treeSub]struct{}),
		closedCh: make(chan struct{}),
	}
}

// delivery is one record the engine handed the Tree, or the start of a resync.
type delivery struct {
	path        string
	k           kind
	resync      bool
	resyncStart bool
	rec         *engine.Record
}

// Deliver queues a new record of a path the Tree holds (the engine's lock is held).
func (t *Tree) Deliver(path string, k kind, rec *engine.Record, resync bool) {
	t.in.Put(delivery{path: path, k: k, rec: rec, resync: resync})
}

// ResyncStarted queues the start of a resync (the engine's lock is held).
func (t *Tree) ResyncStarted() { t.in.Put(delivery{resyncStart: true}) }

// apply applies the engine's deliveries in the order they were made, until the Tree
// closes. A delivery of a path the Tree released since it was made is stale: the Tree
// may hold the path again by then, from a newer state, and skips it.
func (t *Tree) apply() {
	var batch []delivery
	for {
		select {
		case <-t.grp.Stopping():
			return
		case <-t.in.Ready():
		}
		var first uint64
		batch, first = t.in.TakeSeq(batch)
		t.mu.Lock()
		for i, d := range batch {
			if t.closed {
				break
			}
			if d.resyncStart {
				t.beginResyncLocked()
				continue
			}
			if m, ok := t.released[d.path]; ok && first+uint64(i) < m {
				continue
			}
			t.onRecordLocked(d.path, d.k, d.rec, d.resync)
		}
		end := first + uint64(len(batch))
		for p, m := range t.released {
			if m <= end {
				delete(t.released, p)
			}
		}
		t.mu.Unlock()
		if cap(batch) > 4096 { // give back what a burst took
			batch = nil
		}
	}
}

func (t *Tree) userPath(sp string) string {
	if up, ok := t.m.root.toUser(sp); ok {
		return up
	}
	return sp
}

func childPath(parent, name string) string {
	if parent == "/" {
		return "/" + name
	}
	return parent + "/" + name
}

// setLocked stores n, copying the map first if a View shares it.
func (t *Tree) setLocked(sp string, n tnode) {
	if t.shared {
		t.nodes = maps.Clone(t.nodes)
		t.shared = false
	}
	t.nodes[sp] = n
}

func (t *Tree) deleteLocked(sp string) {
	if t.shared {
		t.nodes = maps.Clone(t.nodes)
		t.shared = false
	}
	delete(t.nodes, sp)
}

// addLocked starts mirroring one node of the tree; false if the engine has stopped.
func (t *Tree) addLocked(sp string, depth int) bool {
	if _, ok := t.nodes[sp]; ok {
		return true
	}
	n := tnode{depth: int32(depth)}
	n.flags.set(tHolds, kindData, !t.cfg.namesOnly)
	n.flags.set(tHolds, kindChildren, t.cfg.namesOnly || t.cfg.maxDepth < 0 || depth < t.cfg.maxDepth)
	var cur [2]*engine.Record
	for k := range kind(2) {
		if n.flags.is(tHolds, k) {
			err := t.g.Acquire(sp, k, t, func(rec *engine.Record, _ bool) { cur[k] = rec })
			if err != nil {
				if k == kindChildren && n.flags.is(tHolds, kindData) {
					t.g.Release(sp, kindData, t)
				}
				return false
			}
			if !t.isSynced {
				t.pendingInit++
			}
			if t.resyncing {
				// Found by the resync: it counts towards the resync's end.
				n.flags.set(tResync, k, true)
				t.resyncLeft++
			}
		}
	}
	t.setLocked(sp, n)
	// The path may already be mirrored (a Node handle, another Tree): start from its state.
	for k := range kind(2) {
		if cur[k] != nil {
			t.onRecordLocked(sp, k, cur[k], false)
		}
	}
	return true
}

// removeLocked stops mirroring a node and everything below it; a node that was present
// gets a Deleted event.
func (t *Tree) removeLocked(sp string) {
	n, ok := t.nodes[sp]
	if !ok {
		return
	}
	for _, name := range t.expandedLocked(n) {
		t.removeLocked(childPath(sp, name))
	}
	if n.flags&tPresent != 0 {
		t.present--
		t.emitLocked(sp, TreeEvent{Type: EventDeleted, Path: t.userPath(sp), Value: Value{Path: t.userPath(sp)}, Resync: t.resyncing})
	}
	for k := range kind(2) {
		if !n.flags.is(tHolds, k) {
			continue
		}
		if (!n.flags.is(tContact, k) || n.flags.is(tRestored, k)) && !t.isSynced {
			t.pendingInit--
		}
		if n.flags.is(tResync, k) {
			t.resyncLeft--
		}
	}
	t.deleteLocked(sp)
	t.releaseNodeLocked(sp, n)
}

// releaseNodeLocked lets go of a node's kinds in the engine; what it delivered before is
// stale from now on.
func (t *Tree) releaseNodeLocked(sp string, n tnode) {
	for k := range kind(2) {
		if n.flags.is(tHolds, k) {
			t.g.Release(sp, k, t)
		}
	}
	t.released[sp] = t.in.Puts()
}

func (t *Tree) contactLocked(n *tnode, k kind, resync bool, rec *engine.Record) {
	// A state restored from the snapshot file is shown, but it is no contact with a server.
	first := !n.flags.is(tContact, k) || n.flags.is(tRestored, k)
	n.flags.set(tContact, k, true)
	n.flags.set(tRestored, k, rec.Restored(k))
	if rec.Restored(k) {
		return
	}
	if first && !t.isSynced {
		t.pendingInit--
	}
	if n.flags.is(tResync, k) && (resync || first) {
		n.flags.set(tResync, k, false)
		t.resyncLeft--
	}
}

// onRecordLocked receives every new state of a kind of a path the Tree holds (or the
// current state again, flagged Resync), and grows or shrinks the Tree to match.
//
// The Tree changes only in steps that keep it consistent across paths, and an event is
// queued only once the Tree shows it:
//   - A node is present once every kind the Tree holds of it has had first contact and
//     shows the same incarnation (Czxid) existing; only then is it Created, and only then
//     are its children added. So a Created node's data and children are there, and its
//     parent (present, since it added it) lists it.
//   - A node below the root leaves the Tree when its parent's children no longer list it,
//     which is when it is Deleted. A read of the node itself saying it is gone comes
//     before or after that read of its parent; until the parent's, the Tree keeps the node
//     as it last was, so its parent never lists a child the Tree says is deleted.
//   - The root is the one node without a parent in the Tree: it is Deleted, after its
//     children, when a read of it says it is gone.
func (t *Tree) onRecordLocked(sp string, k kind, rec *engine.Record, resync bool) {
	n, ok := t.nodes[sp]
	if !ok || !n.flags.is(tHolds, k) || t.closed {
		return
	}
	t.contactLocked(&n, k, resync, rec)
	// Keep only the kinds the Tree holds: the other may be mirrored for someone else, and
	// a record of it would outlive its changes here.
	for o := range kind(2) {
		if !n.flags.is(tHolds, o) {
			rec = rec.Without(o)
		}
	}
	wasPresent := n.flags&tPresent != 0
	if wasPresent && sp != t.sroot {
		if !rec.Exists(k) {
			// Gone: its parent's children, read next, remove it.
			t.setLocked(sp, n)
			t.checkLocked()
			return
		}
		if o := 1 - k; n.flags.is(tHolds, o) && !rec.Exists(o) {
			// The other kind's newest state says gone: keep the one the Tree shows.
			rec = rec.With(o, true, n.rec.Data(), n.rec.Names(), n.rec.Stat(o), n.rec.Err(o))
		}
	}
	prev := n.rec
	oldKids := t.expandedLocked(n)
	n.rec = rec
	isPresent := true
	for o := range kind(2) {
		if n.flags.is(tHolds, o) && (!n.flags.is(tContact, o) || !rec.Exists(o)) {
			isPresent = false
		}
	}
	if isPresent && !wasPresent && n.flags.is(tHolds, kindData) && n.flags.is(tHolds, kindChildren) &&
		rec.Stat(kindData).Czxid != rec.Stat(kindChildren).Czxid {
		isPresent = false // the kinds were read from two incarnations: wait for the newer one's
	}
	n.flags.set(tPresent, 0, isPresent)
	t.setLocked(sp, n)
	newKids := t.expandedLocked(n)
	up := t.userPath(sp)
	ev := TreeEvent{Path: up, Resync: resync || t.resyncing}
	switch {
	case !wasPresent && isPresent:
		t.present++
		ev.Type, ev.Value = EventCreated, t.valueOf(n, up)
		t.emitLocked(sp, ev)
		t.diffChildrenLocked(sp, int(n.depth)+1, oldKids, newKids)
	case wasPresent && !isPresent:
		t.diffChildrenLocked(sp, int(n.depth)+1, oldKids, newKids)
		t.present--
		ev.Type, ev.Value = EventDeleted, Value{Path: up}
		t.emitLocked(sp, ev)
	case wasPresent:
		if t.changed(prev, rec) {
			ev.Type, ev.Value = EventChanged, t.valueOf(n, up)
			t.emitLocked(sp, ev)
		}
		t.diffChildrenLocked(sp, int(n.depth)+1, oldKids, newKids)
	}
	t.checkLocked()
}

// expandedLocked returns the child names the Tree has added below a node: its children,
// while it is present and they could be read.
func (t *Tree) expandedLocked(n tnode) []string {
	if names, ok := n.children(); ok {
		return names
	}
	return nil
}

// children returns a node's child names as the Tree shows them: false while it is not
// present, its children are not held or they could not be read.
func (n tnode) children() ([]string, bool) {
	if n.flags&tPresent == 0 || !n.flags.is(tHolds, kindChildren) || !n.flags.is(tContact, kindChildren) ||
		!n.rec.Exists(kindChildren) || n.rec.Err(kindChildren) != nil {
		return nil, false
	}
	return n.rec.Names(), true
}

// valueOf is a node's snapshot as Get and events show it: its data (for NamesOnly, only
// its Stat), with the error of the last read of either kind that failed, the data's first.
func (t *Tree) valueOf(n tnode, up string) Value {
	return nodeValue(n, t.cfg.namesOnly, up)
}

func nodeValue(n tnode, namesOnly bool, up string) Value {
	if namesOnly {
		return Value{Path: up, Stat: Stat(n.rec.Stat(kindChildren)), Exists: n.rec.Exists(kindChildren), Err: n.rec.Err(kindChildren)}
	}
	v := valueOf(n.rec, up)
	if v.Err == nil && n.flags.is(tHolds, kindChildren) && n.rec.Has(kindChildren) {
		v.Err = n.rec.Err(kindChildren)
	}
	return v
}

// changed reports whether a present node's snapshot changed between two records: a new
// state of its data (for NamesOnly, of its children) or a change of the error Get shows.
func (t *Tree) changed(prev, rec *engine.Record) bool {
	k := kindData
	if t.cfg.namesOnly {
		k = kindChildren
	}
	pc, pz := prev.Zxids(k)
	nc, nz := rec.Zxids(k)
	if pc != nc || pz != nz {
		return true
	}
	if k == kindData && prev.Restored(k) && !rec.Restored(k) && !bytes.Equal(prev.Data(), rec.Data()) {
		return true // the file's history may not be the server's
	}
	return errKey(visibleErr(prev, t.cfg.namesOnly)) != errKey(visibleErr(rec, t.cfg.namesOnly))
}

func visibleErr(r *engine.Record, namesOnly bool) error {
	if namesOnly {
		return r.Err(kindChildren)
	}
	if err := r.Err(kindData); err != nil {
		return err
	}
	return r.Err(kindChildren)
}

// diffChildrenLocked adds and removes the children of a node that changed between two
// sorted lists of names.
func (t *Tree) diffChildrenLocked(sp string, childDepth int, oldNames, newNames []string) {
	t.diffing++
	defer func() { t.diffing-- }()
	expand := t.cfg.maxDepth < 0 || childDepth <= t.cfg.maxDepth
	i, j := 0, 0
	for i < len(oldNames) || j < len(newNames) {
		switch {
		case j == len(newNames) || (i < len(oldNames) && oldNames[i] < newNames[j]):
			t.removeLocked(childPath(sp, oldNames[i]))
			i++
		case i == len(oldNames) || newNames[j] < oldNames[i]:
			cp := childPath(sp, newNames[j])
			if expand && t.keep(cp) {
				t.addLocked(cp, childDepth)
			}
			j++
		default:
			i++
			j++
		}
	}
}

// keep runs the Tree's Filter on a server path; a Filter that panics is logged and the
// path left out.
func (t *Tree) keep(sp string) (ok bool) {
	if t.cfg.filter == nil {
		return true
	}
	up := t.userPath(sp)
	defer func() {
		if p := recover(); p != nil {
			t.m.log.Error("tree filter panicked; the path is left out", "root", t.root, "path", up, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			ok = false
		}
	}()
	return t.cfg.filter(up)
}

// checkLocked closes Synced once the initial load is done and ends a resync once every
// path has been re-read.
func (t *Tree) checkLocked() {
	if t.diffing > 0 {
		return // a node added from a mirrored path may complete the count before its siblings
	}
	if !t.isSynced && t.pendingInit == 0 {
		t.isSynced = true
		close(t.synced)
	}
	if t.resyncing && t.resyncLeft <= 0 {
		t.resyncing = false
		t.emitLocked("", TreeEvent{Type: EventResynced, Path: t.root, Resync: true})
	}
}

// beginResyncLocked runs when the engine starts a resync: every held (path, kind) is to be
// re-read.
func (t *Tree) beginResyncLocked() {
	if t.closed {
		return
	}
	left := 0
	for sp, n := range t.nodes {
		changed := false
		for k := range kind(2) {
			if n.flags.is(tHolds, k) && !n.flags.is(tResync, k) {
				n.flags.set(tResync, k, true)
				changed = true
			}
			if n.flags.is(tResync, k) {
				left++
			}
		}
		if changed {
			t.setLocked(sp, n)
		}
	}
	t.resyncLeft = left
	t.resyncing = true
	t.checkLocked()
}

// Synced waits until the initial load is done: every node below the root (within MaxDepth
// and Filter) has been read once. A missing root counts as loaded. It returns ErrTimeout
// when ctx ends first and ErrClosed when the Tree closes.
func (t *Tree) Synced(ctx context.Context) error {
	if ctx == nil {
		panic("zkmirror: Tree.Synced called with a nil context")
	}
	select {
	case <-t.synced:
		select {
		case <-t.closedCh:
			return newErr("synced", t.root, ErrClosed, nil)
		default:
			return nil
		}
	case <-t.closedCh:
		return newErr("synced", t.root, ErrClosed, nil)
	case <-ctx.Done():
		return timeoutErr("synced", t.root, ctx)
	}
}

// Get returns the latest snapshot of a node in the Tree and whether the Tree holds it as
// present, from the mirror, without a server round trip. The data is a copy. An invalid
// path is not held. A node the Tree may not read (ErrNoAuth, for its data or its children)
// is present with that error in Value.Err; the data read's error comes first.
func (t *Tree) Get(path string) (Value, bool) {
	sp, ok := lookupPath(t.m.root, path)
	if !ok {
		return Value{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return treeGet(t.nodes, t.cfg.namesOnly, path, sp)
}

// lookupPath maps a path given to a Tree's lookups to the server; false for an invalid path,
// which no Tree holds.
func lookupPath(root chroot, path string) (string, bool) {
	if validatePath(path, false) != nil {
		return "", false
	}
	return root.toServer(path), true
}

// treeGet looks a node up; path is as the user gave it, sp on the server.
func treeGet(nodes map[string]tnode, namesOnly bool, path, sp string) (Value, bool) {
	n, ok := nodes[sp]
	if !ok || n.flags&tPresent == 0 {
		return Value{}, false
	}
	v := nodeValue(n, namesOnly, path)
	v.Data = bytes.Clone(v.Data)
	return v, true
}

// Children returns the sorted child names of a node in the Tree (a copy), from the mirror,
// and false if the node is absent, its children are not mirrored (below MaxDepth) or they
// could not be read: then Get's Value.Err says why (ErrNoAuth), and nothing below the node
// is in the Tree until they can be read again. The names include children that Filter
// leaves out.
func (t *Tree) Children(path string) ([]string, bool) {
	sp, ok := lookupPath(t.m.root, path)
	if !ok {
		return nil, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return treeChildren(t.nodes, sp)
}

func treeChildren(nodes map[string]tnode, sp string) ([]string, bool) {
	n, ok := nodes[sp]
	if !ok {
		return nil, false
	}
	names, ok := n.children()
	if !ok {
		return nil, false
	}
	out := make([]string, len(names))
	copy(out, names)
	return out, true
}

// Len returns the number of nodes present in the Tree, the root included; 0 if the root is
// missing.
func (t *Tree) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.present
}

// TreeView is an immutable point-in-time view of a Tree.
type TreeView struct {
	nodes     map[string]tnode
	present   int
	namesOnly bool
	root      chroot
}

// View returns the Tree's current state as an immutable view. Taking it is O(1); the Tree
// copies its index on its next change instead.
func (t *Tree) View() *TreeView {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.shared = true
	return &TreeView{nodes: t.nodes, present: t.present, namesOnly: t.cfg.namesOnly, root: t.m.root}
}

// Get is Tree.Get on the view.
func (v *TreeView) Get(path string) (Value, bool) {
	sp, ok := lookupPath(v.root, path)
	if !ok {
		return Value{}, false
	}
	return treeGet(v.nodes, v.namesOnly, path, sp)
}

// Children is Tree.Children on the view.
func (v *TreeView) Children(path string) ([]string, bool) {
	sp, ok := lookupPath(v.root, path)
	if !ok {
		return nil, false
	}
	return treeChildren(v.nodes, sp)
}

// Len is Tree.Len on the view.
func (v *TreeView) Len() int { return v.present }

// Paths returns the paths present in the view, sorted.
func (v *TreeView) Paths() []string {
	out := make([]string, 0, v.present)
	for sp, n := range v.nodes {
		if n.flags&tPresent != 0 {
			up, ok := v.root.toUser(sp)
			if !ok {
				up = sp
			}
			out = append(out, up)
		}
	}
	sort.Strings(out)
	return out
}

// Close stops mirroring the Tree: its Events channels close, and Close returns once their
// goroutines have ended. From then on (and after the Mirror's Close) the Tree is empty: Len
// is 0, Get and Children answer false, View is empty, Events returns a closed channel and
// Synced returns ErrClosed; views taken before keep what they held. Paths still held by
// Node handles or other Trees stay mirrored. Idempotent; it may be called from a watcher
// callback.
func (t *Tree) Close() error {
	t.m.mu.Lock()
	if t.m.trees != nil {
		delete(t.m.trees, t)
	}
	t.m.mu.Unlock()
	t.g.RemoveResyncListener(t)
	t.mu.Lock()
	if !t.closed {
		t.releaseAllLocked()
		t.closeLocked()
	}
	t.mu.Unlock()
	t.grp.StopAndWait()
	return nil
}

func (t *Tree) releaseAllLocked() {
	for sp, n := range t.nodes {
		t.releaseNodeLocked(sp, n)
	}
	t.nodes = map[string]tnode{}
	t.shared = false
}

// closeLocked ends the Tree: it holds nothing from now on.
func (t *Tree) closeLocked() {
	if t.closed {
		return
	}
	t.closed = true
	t.nodes = map[string]tnode{}
	t.shared = false
	t.present = 0
	close(t.closedCh)
}

// shutdown runs when the Mirror closes, once the engine has stopped.
func (t *Tree) shutdown() {
	t.mu.Lock()
	t.closeLocked()
	t.mu.Unlock()
	t.grp.StopAndWait()
}

// Events returns the Tree's events from now on (see the Tree's guarantees for order and
// conflation). The channel closes when ctx ends, the Tree closes or the Mirror closes.
func (t *Tree) Events(ctx context.Context) <-chan TreeEvent {
	if ctx == nil {
		panic("zkmirror: Tree.Events called with a nil context")
	}
	s := &treeSub{ch: make(chan TreeEvent), wake: inbox.NewSignal(), pend: make(map[string]*pendingEvent)}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		close(s.ch)
		return s.ch
	}
	t.subs[s] = struct{}{}
	t.grp.Go(func() { t.pump(ctx, s) })
	t.mu.Unlock()
	return s.ch
}

// treeSub is one Events reader: a queue of pending events, at most one per path.
type treeSub struct {
	ch    chan TreeEvent
	wake  inbox.Signal
	pend  map[string]*pendingEvent
	order []orderRef
	head  int
	seq   uint64
}

// pendingEvent is the merged pending event of one path. While the pump offers it to the
// reader (inflight), later events are also merged separately (after), so that whether the
// offer is taken or abandoned the reader ends at the right state.
type pendingEvent struct {
	ev       TreeEvent
	has      bool // false: the events merged to nothing (Created+Deleted)
	seq      uint64
	inflight bool
	after    TreeEvent
	hasAfter bool
	touched  bool // an event arrived while inflight
}

type orderRef struct {
	key string
	seq uint64
}

func (t *Tree) emitLocked(sp string, ev TreeEvent) {
	for s := range t.subs {
		s.push(sp, ev)
	}
}

// mergeEvents applies the conflation rules: Created+Changed → Created; Changed+Changed →
// Changed; Created+Deleted → nothing; Deleted+Created → Changed; anything+Deleted → Deleted.
func mergeEvents(a TreeEvent, has bool, b TreeEvent) (TreeEvent, bool) {
	if !has || b.Type == EventResynced {
		return b, true
	}
	resync := a.Resync || b.Resync
	switch {
	case a.Type == EventCreated && b.Type == EventDeleted:
		return TreeEvent{}, false
	case a.Type == EventCreated:
		b.Type = EventCreated
	case a.Type == EventDeleted && b.Type == EventCreated:
		b.Type = EventChanged
	}
	b.Resync = resync
	return b, true
}

func (s *treeSub) signal() { s.wake.Poke() }

// push merges ev into the pending event of its path.
func (s *treeSub) push(key string, ev TreeEvent) {
	if ev.Type == EventResynced {
		key = "\x00resynced"
	}
	if p, ok := s.pend[key]; ok {
		p.ev, p.has = mergeEvents(p.ev, p.has, ev)
		if p.inflight {
			p.after, p.hasAfter = mergeEvents(p.after, p.hasAfter, ev)
			p.touched = true
			s.signal() // the pump offers the merged event instead
		}
		return
	}
	s.seq++
	s.pend[key] = &pendingEvent{ev: ev, has: true, seq: s.seq}
	s.order = append(s.order, orderRef{key, s.seq})
	s.signal()
}

// peek returns the oldest pending event and marks it inflight.
func (s *treeSub) peek() (*pendingEvent, string, bool) {
	for s.head < len(s.order) {
		ref := s.order[s.head]
		if p, ok := s.pend[ref.key]; ok && p.seq == ref.seq {
			if !p.has {
				delete(s.pend, ref.key)
			} else {
				p.inflight, p.after, p.hasAfter, p.touched = true, TreeEvent{}, false, false
				return p, ref.key, true
			}
		}
		s.order[s.head] = orderRef{}
		s.head++
	}
	s.compact()
	return nil, "", false
}

// delivered records that the reader took p's offered event: what arrived meanwhile stays
// pending, in the same place.
func (s *treeSub) delivered(key string, p *pendingEvent) {
	p.inflight = false
	if p.touched && p.hasAfter {
		p.ev, p.has = p.after, true
		return
	}
	delete(s.pend, key)
	s.order[s.head] = orderRef{}
	s.head++
	s.compact()
}

func (s *treeSub) compact() {
	if s.head == len(s.order) {
		s.order = s.order[:0]
		s.head = 0
	} else if s.head > 1024 && s.head*2 > len(s.order) {
		s.order = append(s.order[:0:0], s.order[s.head:]...)
		s.head = 0
	}
}

// pump offers one reader its pending events, oldest path first. An event merged with a
// newer one while on offer is withdrawn and the merged event offered instead, so a reader
// that is away gets one event per path.
func (t *Tree) pump(ctx context.Context, s *treeSub) {
	defer close(s.ch)
	defer func() {
		t.mu.Lock()
		delete(t.subs, s)
		t.mu.Unlock()
	}()
	for {
		t.mu.Lock()
		p, key, ok := s.peek()
		var ev TreeEvent
		if ok {
			ev = p.ev
		}
		t.mu.Unlock()
		if !ok {
			select {
			case <-s.wake.C():
				continue
			case <-ctx.Done():
				return
			case <-t.closedCh:
				return
			}
		}
		select {
		case s.ch <- ev:
			t.mu.Lock()
			s.delivered(key, p)
			t.mu.Unlock()
		case <-s.wake.C():
			t.mu.Lock()
			p.inflight = false
			t.mu.Unlock()
		case <-ctx.Done():
			return
		case <-t.closedCh:
			return
		}
	}
}

// String describes the Tree.
func (t *Tree) String() string {
	return "zkmirror.Tree(" + t.root + ")"
}
