package zkmirror

import (
	"bytes"
	"context"
	"log/slog"
	"sort"
	"strconv"
	"sync"

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
// A Tree is safe for concurrent use; Get, Children, Len and View never wait for the
// Mirror's reads. Close it when done.
type Tree struct {
	// The Tree is one of the engine's holders: the engine hands it each new record of a
	// path it holds in O(1) (treeHolder.Deliver, into in), and the Tree's own goroutine
	// applies them under mu, adding and releasing children as the records say, never with
	// the engine's lock held. Each Events reader has its own goroutine.
	//
	// Lock order: mu, then the engine's lock, then in's. Deliver and ResyncStarted run
	// with the engine's lock held and take only in's.

	g      treeSource // the Mirror's engine
	chroot chroot
	log    *slog.Logger
	// onClose tells the Mirror that the Tree closed.
	onClose func(*Tree)
	root    string // as given
	sroot   string // on the server
	cfg     treeConfig

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
	sp, ok := lookupPath(t.chroot, path)
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
	sp, ok := lookupPath(t.chroot, path)
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
	return &TreeView{nodes: t.nodes, present: t.present, namesOnly: t.cfg.namesOnly, root: t.chroot}
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
	t.onClose(t)
	t.g.RemoveResyncListener(t.holder())
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

// String describes the Tree.
func (t *Tree) String() string {
	return "zkmirror.Tree(" + t.root + ")"
}
