package zkmirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-zookeeper/zk"
)

// Node is a handle on the mirror of one path. Every handle on a path shares one mirror and
// one set of ZooKeeper watches; the handle only decides how long this user holds the path.
//
// Lifecycle: a handle reads nothing until first used. The first Value, Watch or
// AddValueWatcher starts mirroring the node's data, the first Children, WatchChildren or
// AddChildWatcher its children; the handle holds what it started until Close. Close ends
// the handle's channels and watchers; the path stays mirrored while another handle,
// subscription or Tree holds it. A Node is safe for concurrent use.
type Node struct {
	m     *Mirror
	path  string // as the user sees it
	spath string // on the server

	mu       sync.Mutex // guards the fields below
	closed   bool
	data     *Stream[Value]    // while the handle holds the data kind
	kids     *Stream[Children] // while it holds the children kind
	nextID   uint64
	subs     map[uint64]func()
	watchers map[watcherKey]func()
}

type watcherKey struct {
	k  kind
	id string
}

// Path returns the node's path as given to Mirror.Node.
func (n *Node) Path() string { return n.path }

func (n *Node) checkOpen(op string) error {
	n.mu.Lock()
	closed := n.closed
	n.mu.Unlock()
	if closed {
		return newErr(op, n.path, ErrClosed, nil)
	}
	return n.m.checkOpen(op, n.path)
}

func (n *Node) dataStream(op string) (*Stream[Value], error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, newErr(op, n.path, ErrClosed, nil)
	}
	if n.data == nil {
		s, err := n.m.streams.dataStream(n.spath, n.path)
		if err != nil {
			return nil, newErr("node", n.path, ErrClosed, nil)
		}
		n.data = s
	}
	return n.data, nil
}

func (n *Node) kidsStream(op string) (*Stream[Children], error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, newErr(op, n.path, ErrClosed, nil)
	}
	if n.kids == nil {
		s, err := n.m.streams.kidsStream(n.spath, n.path)
		if err != nil {
			return nil, newErr("node", n.path, ErrClosed, nil)
		}
		n.kids = s
	}
	return n.kids, nil
}

// Value returns the node's latest data snapshot from the mirror, without a server round
// trip once the path has had first contact; before that it waits for the first read. It
// returns ErrNoNode if the node does not exist, the snapshot's Err if its last read failed
// (ErrNoAuth, for instance), ErrTimeout if ctx ends before first contact, and ErrClosed
// after Close.
func (n *Node) Value(ctx context.Context) (Value, error) {
	if ctx == nil {
		panic("zkmirror: Node.Value called with a nil context")
	}
	s, err := n.dataStream("value")
	if err != nil {
		return Value{Path: n.path}, err
	}
	v, err := s.Wait(ctx)
	if err != nil {
		if errors.Is(err, ErrTimeout) {
			return Value{Path: n.path}, timeoutErr("value", n.path, ctx)
		}
		return Value{Path: n.path}, newErr("value", n.path, ErrClosed, nil)
	}
	if err := n.checkOpen("value"); err != nil {
		return Value{Path: n.path}, err
	}
	switch {
	case v.Err != nil:
		return v, v.Err
	case !v.Exists:
		return v, newErr("value", n.path, ErrNoNode, zk.ErrNoNode)
	}
	return v, nil
}

// Children returns the node's latest children snapshot from the mirror, with the same rules
// as Value.
func (n *Node) Children(ctx context.Context) (Children, error) {
	if ctx == nil {
		panic("zkmirror: Node.Children called with a nil context")
	}
	s, err := n.kidsStream("children")
	if err != nil {
		return Children{Path: n.path}, err
	}
	c, err := s.Wait(ctx)
	if err != nil {
		if errors.Is(err, ErrTimeout) {
			return Children{Path: n.path}, timeoutErr("children", n.path, ctx)
		}
		return Children{Path: n.path}, newErr("children", n.path, ErrClosed, nil)
	}
	if err := n.checkOpen("children"); err != nil {
		return Children{Path: n.path}, err
	}
	switch {
	case c.Err != nil:
		return c, c.Err
	case !c.Exists:
		return c, newErr("children", n.path, ErrNoNode, zk.ErrNoNode)
	}
	return c, nil
}

// Watch returns a channel of the node's data snapshots: the current state first, as soon as
// it is known (Exists=false for a missing node), then every change, conflated — a slow
// reader gets the latest snapshot, never a backlog, and never delays anyone else. Per path,
// snapshots arrive in zxid order. The channel closes when ctx ends, the handle closes or the
// Mirror closes (at once if already closed).
func (n *Node) Watch(ctx context.Context) <-chan Value {
	if ctx == nil {
		panic("zkmirror: Node.Watch called with a nil context")
	}
	s, err := n.dataStream("watch")
	if err != nil {
		return closedChan[Value]()
	}
	return subscribeHandle(n, ctx, s)
}

// WatchChildren is Watch for the node's children.
func (n *Node) WatchChildren(ctx context.Context) <-chan Children {
	if ctx == nil {
		panic("zkmirror: Node.WatchChildren called with a nil context")
	}
	s, err := n.kidsStream("watch children")
	if err != nil {
		return closedChan[Children]()
	}
	return subscribeHandle(n, ctx, s)
}

func closedChan[T any]() <-chan T {
	ch := make(chan T)
	close(ch)
	return ch
}

// subscribeHandle subscribes to s on behalf of the handle, so Close ends the subscription.
func subscribeHandle[T any](n *Node, ctx context.Context, s *Stream[T]) <-chan T {
	mb := newMailbox[T](nil, nil)
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return closedChan[T]()
	}
	n.nextID++
	id := n.nextID
	n.subs[id] = func() { s.unsubscribe(mb) }
	n.mu.Unlock()
	mb.onEnd = func() {
		n.mu.Lock()
		delete(n.subs, id)
		n.mu.Unlock()
	}
	s.subscribe(ctx, mb)
	return mb.ch
}

// AddValueWatcher calls fn with the node's data snapshots, the current one first, then every
// change (conflated like Watch: a slow fn skips to the latest). fn runs on the Mirror's one
// dispatcher goroutine, never on a network goroutine, in order per path; a panic in fn is
// recovered and logged. A watcher with the same id replaces the earlier one. The watcher
// ends with RemoveValueWatcher, the handle's Close or the Mirror's. A missing node is a
// snapshot with Exists=false. A nil fn panics.
func (n *Node) AddValueWatcher(id string, fn func(Value)) {
	if fn == nil {
		panic("zkmirror: Node.AddValueWatcher called with a nil func")
	}
	s, err := n.dataStream("add value watcher")
	if err != nil {
		return
	}
	addWatcher(n, watcherKey{kindData, id}, s, fn)
}

// AddChildWatcher is AddValueWatcher for the node's children.
func (n *Node) AddChildWatcher(id string, fn func(Children)) {
	if fn == nil {
		panic("zkmirror: Node.AddChildWatcher called with a nil func")
	}
	s, err := n.kidsStream("add child watcher")
	if err != nil {
		return
	}
	addWatcher(n, watcherKey{kindChildren, id}, s, fn)
}

func addWatcher[T any](n *Node, key watcherKey, s *Stream[T], fn func(T)) {
	w := newWatcher(n.m.disp, s, n.path, fn)
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	old := n.watchers[key]
	n.watchers[key] = w.remove
	n.mu.Unlock()
	if old != nil {
		old()
	}
	s.subscribe(context.Background(), w.mb)
}

// RemoveValueWatcher removes the value watcher with this id: after it returns no new call
// of its fn begins, but a call already under way is not waited for (so fn may remove itself).
func (n *Node) RemoveValueWatcher(id string) { n.removeWatcher(watcherKey{kindData, id}) }

// RemoveChildWatcher is RemoveValueWatcher for a child watcher.
func (n *Node) RemoveChildWatcher(id string) { n.removeWatcher(watcherKey{kindChildren, id}) }

func (n *Node) removeWatcher(key watcherKey) {
	n.mu.Lock()
	f := n.watchers[key]
	delete(n.watchers, key)
	n.mu.Unlock()
	if f != nil {
		f()
	}
}

// Close releases the handle: its channels close and its watchers end. The path stays
// mirrored while anything else holds it. Idempotent. A path no longer held is not re-armed,
// but the ZooKeeper watches it had armed stay on the server (go-zookeeper v1.0.4 cannot
// remove a watch) until they fire or the session ends: one data watch and one child watch
// at most per path, which a later handle on the path reuses instead of arming another.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	subs, watchers := n.subs, n.watchers
	n.subs, n.watchers = nil, nil
	holdsData, holdsKids := n.data != nil, n.kids != nil
	n.mu.Unlock()
	for _, f := range subs {
		f()
	}
	for _, f := range watchers {
		f()
	}
	if holdsData {
		n.m.streams.release(n.spath, kindData)
	}
	if holdsKids {
		n.m.streams.release(n.spath, kindChildren)
	}
	return nil
}

func (n *Node) checkVersion(op string, version int32) error {
	if version < -1 {
		return newErrf(op, n.path, ErrInvalidArgument, "version %d (use -1 for any)", version)
	}
	return nil
}

func (n *Node) checkData(op string, data []byte) error {
	if len(data) > n.m.cfg.maxDataSize {
		return newErrf(op, n.path, ErrDataTooLarge, "%d bytes, limit %d", len(data), n.m.cfg.maxDataSize)
	}
	return nil
}

// checkRequest refuses a request that does not fit the server's packet limit.
func (n *Node) checkRequest(op string, size, data int) error {
	if size > packetLimit {
		return newErrf(op, n.path, ErrDataTooLarge, "a request of %d bytes (%d of data, %d of path, ACL and the rest) does not fit the server's packet limit of %d", size, data, size-data, packetLimit)
	}
	return nil
}

// Set writes the node's data if its version matches (-1: any version); nil data is empty
// data. A version below -1 is ErrInvalidArgument, and data over the size limit, or a
// request (path and data) that does not fit the server's packet limit, is ErrDataTooLarge,
// before anything is sent (for a Keep node, its re-creating Create must fit as well). When
// Set returns, Value reflects the write or a later one. ErrConnectionLoss means the
// connection dropped in flight and the outcome is unknown.
func (n *Node) Set(ctx context.Context, data []byte, version int32) (Stat, error) {
	if ctx == nil {
		panic("zkmirror: Node.Set called with a nil context")
	}
	if err := n.checkVersion("set", version); err != nil {
		return Stat{}, err
	}
	if err := n.checkData("set", data); err != nil {
		return Stat{}, err
	}
	if err := n.checkRequest("set", setRequestSize(n.spath, len(data)), len(data)); err != nil {
		return Stat{}, err
	}
	if acl, ok := n.m.keeper.aclOf(n.spath); ok {
		// A kept node is re-created with this data: that request must fit too.
		if err := n.checkRequest("set", createRequestSize(n.spath, len(data), acl, createConfig{ephemeral: true}), len(data)); err != nil {
			return Stat{}, err
		}
	}
	if err := n.checkOpen("set"); err != nil {
		return Stat{}, err
	}
	buf := bytes.Clone(data)
	if buf == nil {
		buf = []byte{}
	}
	var st Stat
	err := n.m.call(ctx, "set", n.path, func() error {
		var err error
		est, err := n.m.eng.Set(n.spath, buf, version)
		if err != nil {
			return wrapZK("set", n.path, err)
		}
		st = Stat(est)
		n.m.keeper.updated(n.spath, buf)
		return nil
	})
	if err != nil {
		return Stat{}, err
	}
	return st, nil
}

// Create creates the node with data (nil is empty) and returns the path created (with the
// sequence number for Sequential). Options: Ephemeral, Sequential, Container, TTL, WithACL,
// Keep. Conflicting options are ErrInvalidArgument. Ephemeral with Sequential is protected:
// a lost reply leaves no orphan, and the name created carries a "_c_<GUID>-" prefix, as in
// "/jobs/_c_<GUID>-job-0000000005" for Node("/jobs/job-"); SequenceNumber gives the number
// (5) from it. The whole request (path, data, ACL, flags) must fit the server's packet limit
// (jute.maxbuffer, 1 MiB less one byte), and the path created must be at most MaxPathLen
// bytes: else ErrDataTooLarge, or ErrInvalidPath, before anything is sent. When Create
// returns, Value (of this node) and Children (of its parent) reflect the write or a later
// one. Errors: ErrNodeExists, ErrNoNode (no parent), ErrDataTooLarge before anything is
// sent, ErrUnimplemented for a TTL on a server without extended types, ErrTimeout when ctx
// ends (if the request was sent, its outcome is unknown), ErrConnectionLoss when the
// connection dropped in flight (outcome unknown), ErrClosed after Close.
func (n *Node) Create(ctx context.Context, data []byte, opts ...CreateOption) (string, error) {
	if ctx == nil {
		panic("zkmirror: Node.Create called with a nil context")
	}
	var cc createConfig
	for _, o := range opts {
		if o == nil {
			panic("zkmirror: Node.Create called with a nil CreateOption")
		}
		o(&cc)
	}
	if why := cc.validate(); why != "" {
		return "", newErrf("create", n.path, ErrInvalidArgument, "%s", why)
	}
	if err := n.checkData("create", data); err != nil {
		return "", err
	}
	if l := createdPathLen(n.spath, cc); l > MaxPathLen {
		return "", invalidPath(n.path, fmt.Sprintf("the node created would have a path of %d bytes, longer than the %d a request to the server can carry", l, MaxPathLen))
	}
	acl := cc.acl
	if len(acl) == 0 {
		acl = zk.WorldACL(zk.PermAll)
	}
	if err := n.checkRequest("create", createRequestSize(n.spath, len(data), acl, cc), len(data)); err != nil {
		return "", err
	}
	if err := n.checkOpen("create"); err != nil {
		return "", err
	}
	buf := bytes.Clone(data)
	if buf == nil {
		buf = []byte{}
	}
	var created string
	err := n.m.call(ctx, "create", n.path, func() error {
		var err error
		created, err = n.m.eng.Create(ctx, n.spath, buf, acl, cc.spec(), n.m.waitConnected)
		if created == "" {
			werr := wrapZK("create", n.path, err)
			if cc.ttlSet && errors.Is(werr, ErrUnimplemented) {
				werr = &opError{op: "create", path: n.path, kind: ErrUnimplemented, cause: err,
					detail: "TTL nodes need the server started with -Dzookeeper.extendedTypesEnabled=true"}
			}
			return werr
		}
		if cc.keep {
			n.m.keeper.add(n.path, n.spath, buf, acl)
		}
		return readBackErr(ctx, err)
	})
	if err != nil {
		return "", err
	}
	up, ok := n.m.root.toUser(created)
	if !ok {
		up = created
	}
	return up, nil
}

// Delete deletes the node if its version matches (-1: any version). A version below -1 is
// ErrInvalidArgument. A Keep node deleted through the Mirror is no longer re-created. When
// Delete returns, Value (of this node) and Children (of its parent) reflect the delete or a
// later state. Errors: ErrNoNode, ErrBadVersion, ErrNotEmpty, ErrTimeout and
// ErrConnectionLoss (outcome unknown), ErrClosed after Close.
func (n *Node) Delete(ctx context.Context, version int32) error {
	if ctx == nil {
		panic("zkmirror: Node.Delete called with a nil context")
	}
	if err := n.checkVersion("delete", version); err != nil {
		return err
	}
	if err := n.checkOpen("delete"); err != nil {
		return err
	}
	return n.m.call(ctx, "delete", n.path, func() error {
		// Paused only once the request is about to be sent: a call that never gets that far
		// leaves a Keep node kept.
		resume := n.m.keeper.pause(n.spath)
		deleted, err := n.m.eng.Delete(ctx, n.spath, version, n.m.waitConnected)
		resume(deleted)
		if !deleted {
			return wrapZK("delete", n.path, err)
		}
		return readBackErr(ctx, err)
	})
}
