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
// always mirrored. keep runs with the Mirror's internal lock held: it must be fast and must
// not call the Mirror. A keep that panics is recovered and logged (Error, with the path and
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
type Tree struct {
	m     *Mirror
	g     *engine
	root  string // as given
	sroot string // on the server
	cfg   treeConfig

	wg sync.WaitGroup // event pumps

	// Guarded by the engine's lock: the Tree is updated from the engine's publish path.
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
	rec   *record // the path's state when the Tree last heard of it
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
	t := &Tree{
		m: m, g: m.eng, root: root, sroot: m.root.toServer(root), cfg: cfg,
		nodes:    make(map[string]tnode),
		synced:   make(chan struct{}),
		subs:     make(map[*treeSub]struct{}),
		closedCh: make(chan struct{}),
	}
	g := m.eng
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, newErr("tree", root, ErrClosed, nil)
	}
	g.trees[t] = struct{}{}
	t.addLocked(t.sroot, 0)
	t.checkLocked()
	return t, nil
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

// addLocked starts mirroring one node of the tree.
func (t *Tree) addLocked(sp string, depth int) {
	if _, ok := t.nodes[sp]; ok {
		return
	}
	n := tnode{depth: int32(depth)}
	n.flags.set(tHolds, kindData, !t.cfg.namesOnly)
	n.flags.set(tHolds, kindChildren, t.cfg.namesOnly || t.cfg.maxDepth < 0 || depth < t.cfg.maxDepth)
	var e *entry
	for k := range kind(2) {
		if n.flags.is(tHolds, k) {
			e = t.g.acquireLocked(sp, k)
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
	t.g.attachTreeLocked(e, t)
	t.setLocked(sp, n)
	// The path may already be mirrored (a Node handle, another Tree): start from its state.
	for k := range kind(2) {
		if n.flags.is(tHolds, k) && e.rec.has(k) {
			t.onRecordLocked(e, k, e.rec, false)
		}
	}
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

// releaseNodeLocked lets go of the engine's entry for a node.
func (t *Tree) releaseNodeLocked(sp string, n tnode) {
	e := t.g.entries[sp]
	t.g.detachTreeLocked(e, t)
	for k := range kind(2) {
		if n.flags.is(tHolds, k) {
			t.g.releaseLocked(e, k)
		}
	}
}

func (t *Tree) contactLocked(n *tnode, k kind, resync bool, rec *record) {
	// A state restored from the snapshot file is shown, but it is no contact with a server.
	first := !n.flags.is(tContact, k) || n.flags.is(tRestored, k)
	n.flags.set(tContact, k, true)
	n.flags.set(tRestored, k, rec.restored(k))
	if rec.restored(k) {
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
func (t *Tree) onRecordLocked(e *entry, k kind, rec *record, resync bool) {
	n, ok := t.nodes[e.path]
	if !ok || !n.flags.is(tHolds, k) || t.closed {
		return
	}
	t.contactLocked(&n, k, resync, rec)
	// Keep only the kinds the Tree holds: the other may be mirrored for someone else, and
	// a record of it would outlive its changes here.
	for o := range kind(2) {
		if !n.flags.is(tHolds, o) {
			rec = rec.without(o)
		}
	}
	wasPresent := n.flags&tPresent != 0
	if wasPresent && e.path != t.sroot {
		if !rec.exists(k) {
			// Gone: its parent's children, read next, remove it.
			t.setLocked(e.path, n)
			t.checkLocked()
			return
		}
		if o := 1 - k; n.flags.is(tHolds, o) && !rec.exists(o) {
			// The other kind's newest state says gone: keep the one the Tree shows.
			rec = rec.with(o, true, n.rec.data, n.rec.names, n.rec.stat(o), n.rec.err(o))
		}
	}
	prev := n.rec
	oldKids := t.expandedLocked(n)
	n.rec = rec
	isPresent := true
	for o := range kind(2) {
		if n.flags.is(tHolds, o) && (!n.flags.is(tContact, o) || !rec.exists(o)) {
			isPresent = false
		}
	}
	if isPresent && !wasPresent && n.flags.is(tHolds, kindData) && n.flags.is(tHolds, kindChildren) &&
		rec.stat(kindData).Czxid != rec.stat(kindChildren).Czxid {
		isPresent = false // the kinds were read from two incarnations: wait for the newer one's
	}
	n.flags.set(tPresent, 0, isPresent)
	t.setLocked(e.path, n)
	newKids := t.expandedLocked(n)
	up := t.userPath(e.path)
	ev := TreeEvent{Path: up, Resync: resync || t.resyncing}
	switch {
	case !wasPresent && isPresent:
		t.present++
		ev.Type, ev.Value = EventCreated, t.valueOf(n, up)
		t.emitLocked(e.path, ev)
		t.diffChildrenLocked(e.path, int(n.depth)+1, oldKids, newKids)
	case wasPresent && !isPresent:
		t.diffChildrenLocked(e.path, int(n.depth)+1, oldKids, newKids)
		t.present--
		ev.Type, ev.Value = EventDeleted, Value{Path: up}
		t.emitLocked(e.path, ev)
	case wasPresent:
		if t.changed(prev, rec) {
			ev.Type, ev.Value = EventChanged, t.valueOf(n, up)
			t.emitLocked(e.path, ev)
		}
		t.diffChildrenLocked(e.path, int(n.depth)+1, oldKids, newKids)
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
		!n.rec.exists(kindChildren) || n.rec.err(kindChildren) != nil {
		return nil, false
	}
	return n.rec.names, true
}

// valueOf is a node's snapshot as Get and events show it: its data (for NamesOnly, only
// its Stat), with the error of the last read of either kind that failed, the data's first.
func (t *Tree) valueOf(n tnode, up string) Value {
	return nodeValue(n, t.cfg.namesOnly, up)
}

func nodeValue(n tnode, namesOnly bool, up string) Value {
	if namesOnly {
		return Value{Path: up, Stat: n.rec.stat(kindChildren), Exists: n.rec.exists(kindChildren), Err: n.rec.err(kindChildren)}
	}
	v := n.rec.value(up)
	if v.Err == nil && n.flags.is(tHolds, kindChildren) && n.rec.has(kindChildren) {
		v.Err = n.rec.err(kindChildren)
	}
	return v
}

// changed reports whether a present node's snapshot changed between two records: a new
// state of its data (for NamesOnly, of its children) or a change of the error Get shows.
func (t *Tree) changed(prev, rec *record) bool {
	k := kindData
	if t.cfg.namesOnly {
		k = kindChildren
	}
	pc, pz := prev.zxids(k)
	nc, nz := rec.zxids(k)
	if pc != nc || pz != nz {
		return true
	}
	if k == kindData && prev.restored(k) && !rec.restored(k) && !bytes.Equal(prev.data, rec.data) {
		return true // the file's history may not be the server's
	}
	return errKey(visibleErr(prev, t.cfg.namesOnly)) != errKey(visibleErr(rec, t.cfg.namesOnly))
}

func visibleErr(r *record, namesOnly bool) error {
	if namesOnly {
		return r.err(kindChildren)
	}
	if err := r.err(kindData); err != nil {
		return err
	}
	return r.err(kindChildren)
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
	t.g.mu.Lock()
	defer t.g.mu.Unlock()
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
	t.g.mu.Lock()
	defer t.g.mu.Unlock()
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
	t.g.mu.Lock()
	defer t.g.mu.Unlock()
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
	t.g.mu.Lock()
	defer t.g.mu.Unlock()
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
	g := t.g
	g.mu.Lock()
	if t.closed {
		g.mu.Unlock()
		t.wg.Wait()
		return nil
	}
	if _, ok := g.trees[t]; ok {
		delete(g.trees, t)
		t.releaseAllLocked()
	}
	t.closeLocked()
	g.mu.Unlock()
	t.wg.Wait()
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

// shutdown runs when the Mirror closes.
func (t *Tree) shutdown() {
	t.g.mu.Lock()
	t.closeLocked()
	t.g.mu.Unlock()
	t.wg.Wait()
}

// Events returns the Tree's events from now on (see the Tree's guarantees for order and
// conflation). The channel closes when ctx ends, the Tree closes or the Mirror closes.
func (t *Tree) Events(ctx context.Context) <-chan TreeEvent {
	if ctx == nil {
		panic("zkmirror: Tree.Events called with a nil context")
	}
	s := &treeSub{ch: make(chan TreeEvent), wake: make(chan struct{}, 1), pend: make(map[string]*pendingEvent)}
	t.g.mu.Lock()
	if t.closed {
		t.g.mu.Unlock()
		close(s.ch)
		return s.ch
	}
	t.subs[s] = struct{}{}
	t.wg.Add(1)
	t.g.mu.Unlock()
	go t.pump(ctx, s)
	return s.ch
}

// treeSub is one Events reader: a queue of pending events, at most one per path.
type treeSub struct {
	ch    chan TreeEvent
	wake  chan struct{}
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

func (s *treeSub) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

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
	defer t.wg.Done()
	defer close(s.ch)
	defer func() {
		t.g.mu.Lock()
		delete(t.subs, s)
		t.g.mu.Unlock()
	}()
	for {
		t.g.mu.Lock()
		p, key, ok := s.peek()
		var ev TreeEvent
		if ok {
			ev = p.ev
		}
		t.g.mu.Unlock()
		if !ok {
			select {
			case <-s.wake:
				continue
			case <-ctx.Done():
				return
			case <-t.closedCh:
				return
			}
		}
		select {
		case s.ch <- ev:
			t.g.mu.Lock()
			s.delivered(key, p)
			t.g.mu.Unlock()
		case <-s.wake:
			t.g.mu.Lock()
			p.inflight = false
			t.g.mu.Unlock()
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
