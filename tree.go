package zkmirror

import (
	"bytes"
	"context"
	"maps"
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
// not call the Mirror.
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

type tflags uint8

// Per kind, the flag for the children kind is the data kind's shifted left by one.
const (
	tHolds   tflags = 1 << iota // the Tree holds the data kind
	_                           // the children kind
	tContact                    // the Tree has had first contact with the data kind
	_
	tResync // the data kind's re-read is awaited by a resync
	_
	tPresent // the node exists, as far as the Tree is concerned
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
	if n.flags.is(tContact, kindChildren) && n.rec.exists(kindChildren) {
		for _, name := range n.rec.names {
			t.removeLocked(childPath(sp, name))
		}
	}
	if n.flags&tPresent != 0 {
		t.present--
		t.emitLocked(sp, TreeEvent{Type: EventDeleted, Path: t.userPath(sp), Value: Value{Path: t.userPath(sp)}, Resync: t.resyncing})
	}
	for k := range kind(2) {
		if !n.flags.is(tHolds, k) {
			continue
		}
		if !n.flags.is(tContact, k) && !t.isSynced {
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

func (t *Tree) contactLocked(n *tnode, k kind, resync bool) {
	first := !n.flags.is(tContact, k)
	if first {
		n.flags.set(tContact, k, true)
		if !t.isSynced {
			t.pendingInit--
		}
	}
	if n.flags.is(tResync, k) && (resync || first) {
		n.flags.set(tResync, k, false)
		t.resyncLeft--
	}
}

// onRecordLocked receives every new state of a kind of a path the Tree holds (or the
// current state again, flagged Resync), and grows or shrinks the Tree to match.
func (t *Tree) onRecordLocked(e *entry, k kind, rec *record, resync bool) {
	n, ok := t.nodes[e.path]
	if !ok || !n.flags.is(tHolds, k) || t.closed {
		return
	}
	had := n.flags.is(tContact, k)
	prev := n.rec
	t.contactLocked(&n, k, resync)
	// Keep only the kinds the Tree holds: the other may be mirrored for someone else, and
	// a record of it would outlive its changes here.
	for o := range kind(2) {
		if !n.flags.is(tHolds, o) {
			rec = rec.without(o)
		}
	}
	n.rec = rec
	wasK := had && prev.exists(k)
	isK := rec.exists(k)
	if k == kindData || t.cfg.namesOnly {
		changed := !wasK || errKey(prev.err(k)) != errKey(rec.err(k))
		if !changed {
			pc, pz := prev.zxids(k)
			nc, nz := rec.zxids(k)
			changed = pc != nc || pz != nz
		}
		up := t.userPath(e.path)
		var v Value
		if k == kindData {
			v = rec.value(up)
		} else {
			v = Value{Path: up, Stat: rec.stat(k), Exists: isK, Err: rec.err(k)}
		}
		t.presenceLocked(e.path, &n, wasK, isK, changed, v, resync)
	}
	t.setLocked(e.path, n)
	if k == kindChildren {
		var oldNames, newNames []string
		if wasK {
			oldNames = prev.names
		}
		if isK {
			newNames = rec.names
		}
		t.diffChildrenLocked(e.path, int(n.depth)+1, oldNames, newNames)
	}
	t.checkLocked()
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
			if expand && (t.cfg.filter == nil || t.cfg.filter(t.userPath(cp))) {
				t.addLocked(cp, childDepth)
			}
			j++
		default:
			i++
			j++
		}
	}
}

// presenceLocked turns a node's change of state into an event.
func (t *Tree) presenceLocked(sp string, n *tnode, was, is, changed bool, v Value, resync bool) {
	ev := TreeEvent{Path: v.Path, Value: v, Resync: resync || t.resyncing}
	switch {
	case !was && is:
		ev.Type = EventCreated
		t.present++
	case was && !is:
		ev.Type = EventDeleted
		t.present--
	case was && is && changed:
		ev.Type = EventChanged
	default:
		n.flags.set(tPresent, 0, is)
		return
	}
	n.flags.set(tPresent, 0, is)
	t.emitLocked(sp, ev)
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
// path is not held.
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
	if namesOnly {
		return Value{Path: path, Stat: n.rec.stat(kindChildren), Exists: true, Err: n.rec.err(kindChildren)}, true
	}
	v := n.rec.value(path)
	v.Data = bytes.Clone(v.Data)
	return v, true
}

// Children returns the sorted child names of a node in the Tree (a copy), from the mirror,
// and false if the node is absent or its children are not mirrored (below MaxDepth).
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
	if !ok || n.flags&tPresent == 0 || !n.flags.is(tContact, kindChildren) || !n.rec.exists(kindChildren) {
		return nil, false
	}
	out := make([]string, len(n.rec.names))
	copy(out, n.rec.names)
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
// goroutines have ended; Synced then returns ErrClosed. Paths still held by Node handles or
// other Trees stay mirrored. Idempotent.
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

func (t *Tree) closeLocked() {
	if t.closed {
		return
	}
	t.closed = true
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
