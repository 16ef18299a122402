package zkmirror

import (
	"bytes"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"

	"github.com/zkmirror/zkmirror/internal/engine"
	"github.com/zkmirror/zkmirror/internal/inbox"
	"github.com/zkmirror/zkmirror/internal/run"
)

// How a Tree loads and follows its nodes: the records the engine hands it, applied on the
// Tree's own goroutine in steps that keep it consistent across paths.

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

// treeSource is what a Tree asks of the engine.
type treeSource interface {
	Acquire(spath string, k kind, h engine.Holder, current func(rec *engine.Record, resynced bool)) error
	Release(spath string, k kind, h engine.Holder)
	AddResyncListener(l engine.ResyncListener)
	RemoveResyncListener(l engine.ResyncListener)
}

func newTree(src treeSource, c chroot, log *slog.Logger, onClose func(*Tree), root string, cfg treeConfig) *Tree {
	return &Tree{
		g: src, chroot: c, log: log, onClose: onClose, root: root, sroot: c.toServer(root), cfg: cfg,
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

// treeHolder is the Tree as the engine's holder and resync listener: a type of its own, so
// that these methods are not part of the Tree's API.
type treeHolder Tree

func (t *Tree) holder() *treeHolder { return (*treeHolder)(t) }

// Deliver queues a new record of a path the Tree holds (the engine's lock is held).
func (t *treeHolder) Deliver(path string, k kind, rec *engine.Record, resync bool) {
	t.in.Put(delivery{path: path, k: k, rec: rec, resync: resync})
}

// ResyncStarted queues the start of a resync (the engine's lock is held).
func (t *treeHolder) ResyncStarted() { t.in.Put(delivery{resyncStart: true}) }

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
		if cap(batch) > 256 { // give back what a burst took: the queue keeps the buffer passed in
			batch = nil
		}
	}
}

func (t *Tree) userPath(sp string) string {
	if up, ok := t.chroot.toUser(sp); ok {
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
			err := t.g.Acquire(sp, k, t.holder(), func(rec *engine.Record, _ bool) { cur[k] = rec })
			if err != nil {
				if k == kindChildren && n.flags.is(tHolds, kindData) {
					t.g.Release(sp, kindData, t.holder())
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
			t.g.Release(sp, k, t.holder())
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
			t.log.Error("tree filter panicked; the path is left out", "root", t.root, "path", up, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
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
