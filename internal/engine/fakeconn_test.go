package engine

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// fakeConn is an in-memory ZooKeeper for the engine's unit tests: a tree with a zxid
// counter and Stats kept as ZooKeeper keeps them, one-shot data (and exist) watches and
// child watches fired as ZooKeeper fires them, and hooks to make a call fail, block, or
// answer from an older state of the tree (a lagging server). Node events are handed to
// onEvent in the order they fired, and each call hands over every event that fired before
// its answer was made before it returns: as a ZooKeeper session sees a watch's event before
// any reply made after the change, and go-zookeeper's event callback runs before the reply
// behind it is read.
type fakeConn struct {
	mu      sync.Mutex
	zxid    int64
	nodes   map[string]*fakeNode
	dataW   map[string]bool // data and exist watches, by path
	childW  map[string]bool
	sid     int64
	calls   map[string]int // by method, and by "method path"
	fails   map[string][]error
	gates   map[string][]*gate
	open    []*gate // gates a call has reached, not yet released
	stale   map[string][]map[string]*fakeNode
	noAuth  map[string]bool
	onEvent func(zk.Event)
	// staleFor says which methods a lagging answer (staleNext) may be given to; nil: every
	// read.
	staleFor func(method string) bool

	events    []zk.Event // every event fired, in order; guarded by mu
	delivered int        // how many of them onEvent has had; guarded by dmu
	dmu       sync.Mutex // one deliverer at a time, so events keep their order
}

type fakeNode struct {
	data     []byte
	stat     zk.Stat
	children map[string]bool
}

func (n *fakeNode) clone() *fakeNode {
	c := *n
	c.children = make(map[string]bool, len(n.children))
	for k := range n.children {
		c.children[k] = true
	}
	return &c
}

// gate blocks one call after it computed its answer: reached is closed when the call
// arrives, and the call returns once release is called.
type gate struct {
	reached chan struct{}
	done    chan struct{}
	once    sync.Once
}

func (g *gate) release() { g.once.Do(func() { close(g.done) }) }

func newFakeConn(sid int64) *fakeConn {
	return &fakeConn{
		nodes:  map[string]*fakeNode{"/": {children: map[string]bool{}}},
		dataW:  map[string]bool{},
		childW: map[string]bool{},
		sid:    sid,
		calls:  map[string]int{},
		fails:  map[string][]error{},
		gates:  map[string][]*gate{},
		stale:  map[string][]map[string]*fakeNode{},
		noAuth: map[string]bool{},
	}
}

// failNext makes the next n calls of method on path return err.
func (f *fakeConn) failNext(method, path string, err error, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.fails[method+" "+path] = append(f.fails[method+" "+path], err)
	}
}

// blockNext makes the next call of method on path wait, with its answer computed, until
// the gate is released.
func (f *fakeConn) blockNext(method, path string) *gate {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := &gate{reached: make(chan struct{}), done: make(chan struct{})}
	f.gates[method+" "+path] = append(f.gates[method+" "+path], g)
	return g
}

// releaseAll lets every blocked call return (for cleanup).
func (f *fakeConn) releaseAll() {
	f.mu.Lock()
	gs := append([]*gate(nil), f.open...)
	for _, l := range f.gates {
		gs = append(gs, l...)
	}
	f.mu.Unlock()
	for _, g := range gs {
		g.release()
	}
}

// snapshot returns a copy of the tree as it is now.
func (f *fakeConn) snapshot() map[string]*fakeNode {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := make(map[string]*fakeNode, len(f.nodes))
	for p, n := range f.nodes {
		s[p] = n.clone()
	}
	return s
}

// staleNext makes the next read of path (any method) answer from tree, an older
// snapshot, as a server that lags behind would; the watch it arms is armed as usual.
func (f *fakeConn) staleNext(path string, tree map[string]*fakeNode) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stale[path] = append(f.stale[path], tree)
}

// clearFaults drops the stale answers and errors not served yet.
func (f *fakeConn) clearFaults() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stale = map[string][]map[string]*fakeNode{}
	f.fails = map[string][]error{}
}

// staleQueued returns how many stale answers of path are not served yet.
func (f *fakeConn) staleQueued(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.stale[path])
}

func (f *fakeConn) setNoAuth(path string, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.noAuth[path] = on
}

func (f *fakeConn) setSessionID(sid int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sid = sid
}

// count returns the calls of method (on path, if path is not "").
func (f *fakeConn) count(method, path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if path == "" {
		return f.calls[method]
	}
	return f.calls[method+" "+path]
}

// reset empties the tree and its watches and restarts the zxid counter at zxid: a cluster
// rebuilt from empty data, whose history starts again.
func (f *fakeConn) reset(zxid int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.zxid = zxid
	f.nodes = map[string]*fakeNode{"/": {children: map[string]bool{}}}
	f.dataW, f.childW = map[string]bool{}, map[string]bool{}
}

// beginLocked counts a call and returns the error chosen for it, the tree it reads and its
// gate.
func (f *fakeConn) beginLocked(method, path string) (error, map[string]*fakeNode, *gate) {
	key := method + " " + path
	f.calls[method]++
	f.calls[key]++
	var err error
	if l := f.fails[key]; len(l) > 0 {
		err, f.fails[key] = l[0], l[1:]
	}
	var g *gate
	if l := f.gates[key]; len(l) > 0 {
		g, f.gates[key] = l[0], l[1:]
		f.open = append(f.open, g)
	}
	tree := f.nodes
	if l := f.stale[path]; len(l) > 0 && err == nil && isRead(method) && (f.staleFor == nil || f.staleFor(method)) {
		tree, f.stale[path] = l[0], l[1:]
	}
	return err, tree, g
}

func isRead(method string) bool {
	switch method {
	case "Get", "GetW", "Children", "ChildrenW", "Exists", "ExistsW":
		return true
	}
	return false
}

// wait blocks on g, if any, after the fake's lock is released.
func (f *fakeConn) wait(g *gate) {
	if g == nil {
		return
	}
	close(g.reached)
	<-g.done
	f.mu.Lock()
	f.open = slices.DeleteFunc(f.open, func(o *gate) bool { return o == g })
	f.mu.Unlock()
}

func (f *fakeConn) Get(path string) ([]byte, *zk.Stat, error) {
	return f.get("Get", path, false)
}

func (f *fakeConn) GetW(path string) ([]byte, *zk.Stat, <-chan zk.Event, error) {
	d, st, err := f.get("GetW", path, true)
	return d, st, nil, err
}

func (f *fakeConn) get(method, path string, watch bool) ([]byte, *zk.Stat, error) {
	f.mu.Lock()
	err, tree, g := f.beginLocked(method, path)
	var data []byte
	var st *zk.Stat
	if err == nil {
		n := tree[path]
		switch {
		case f.noAuth[path]:
			err = zk.ErrNoAuth
		case n == nil:
			err = zk.ErrNoNode // ZooKeeper arms no watch on a missing node's getData
		default:
			data, st = slices.Clone(n.data), new(zk.Stat)
			*st = n.stat
			if watch {
				f.dataW[path] = true
				f.calls["armed data"]++
			}
		}
	}
	upTo := len(f.events)
	f.mu.Unlock()
	f.deliver(upTo)
	f.wait(g)
	return data, st, err
}

func (f *fakeConn) Children(path string) ([]string, *zk.Stat, error) {
	return f.children("Children", path, false)
}

func (f *fakeConn) ChildrenW(path string) ([]string, *zk.Stat, <-chan zk.Event, error) {
	names, st, err := f.children("ChildrenW", path, true)
	return names, st, nil, err
}

func (f *fakeConn) children(method, path string, watch bool) ([]string, *zk.Stat, error) {
	f.mu.Lock()
	err, tree, g := f.beginLocked(method, path)
	var names []string
	var st *zk.Stat
	if err == nil {
		n := tree[path]
		switch {
		case f.noAuth[path]:
			err = zk.ErrNoAuth
		case n == nil:
			err = zk.ErrNoNode
		default:
			for c := range n.children {
				names = append(names, c)
			}
			st = new(zk.Stat)
			*st = n.stat
			if watch {
				f.childW[path] = true
				f.calls["armed child"]++
			}
		}
	}
	upTo := len(f.events)
	f.mu.Unlock()
	f.deliver(upTo)
	f.wait(g)
	return names, st, err
}

func (f *fakeConn) Exists(path string) (bool, *zk.Stat, error) {
	return f.exists("Exists", path, false)
}

func (f *fakeConn) ExistsW(path string) (bool, *zk.Stat, <-chan zk.Event, error) {
	ok, st, err := f.exists("ExistsW", path, true)
	return ok, st, nil, err
}

func (f *fakeConn) exists(method, path string, watch bool) (bool, *zk.Stat, error) {
	f.mu.Lock()
	err, tree, g := f.beginLocked(method, path)
	var ok bool
	st := new(zk.Stat)
	if err == nil {
		if n := tree[path]; n != nil {
			ok, *st = true, n.stat
		}
		if watch { // an exist watch is armed whether or not the node exists
			f.dataW[path] = true
			f.calls["armed data"]++
		}
	}
	upTo := len(f.events)
	f.mu.Unlock()
	f.deliver(upTo)
	f.wait(g)
	return ok, st, err
}

func (f *fakeConn) Sync(path string) (string, error) {
	f.mu.Lock()
	err, _, g := f.beginLocked("Sync", path)
	upTo := len(f.events)
	f.mu.Unlock()
	f.deliver(upTo)
	f.wait(g)
	return path, err
}

func (f *fakeConn) SessionID() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sid
}

// fireLocked records events that fired; with f.mu held. It returns the number of events
// fired so far, for deliver.
func (f *fakeConn) fireLocked(evs []zk.Event) int {
	f.events = append(f.events, evs...)
	return len(f.events)
}

// deliver hands onEvent the events fired before the first upTo, in order; f.mu is not held.
func (f *fakeConn) deliver(upTo int) {
	f.dmu.Lock()
	defer f.dmu.Unlock()
	for f.delivered < upTo {
		f.mu.Lock()
		ev := f.events[f.delivered]
		f.mu.Unlock()
		f.delivered++
		if f.onEvent != nil {
			f.onEvent(ev)
		}
	}
}

// takeWatchLocked removes the watch of path in m and reports whether there was one.
func takeWatchLocked(m map[string]bool, path string) bool {
	ok := m[path]
	delete(m, path)
	return ok
}

func parentOf(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

func (f *fakeConn) Set(path string, data []byte, version int32) (*zk.Stat, error) {
	f.mu.Lock()
	err, _, g := f.beginLocked("Set", path)
	var st *zk.Stat
	var evs []zk.Event
	n := f.nodes[path]
	switch {
	case err != nil:
	case n == nil:
		err = zk.ErrNoNode
	case version != -1 && version != n.stat.Version:
		err = zk.ErrBadVersion
	default:
		f.zxid++
		n.data = slices.Clone(data)
		n.stat.Mzxid, n.stat.Mtime = f.zxid, f.zxid
		n.stat.Version++
		n.stat.DataLength = int32(len(data))
		st = new(zk.Stat)
		*st = n.stat
		if takeWatchLocked(f.dataW, path) {
			evs = append(evs, zk.Event{Type: zk.EventNodeDataChanged, State: zk.StateHasSession, Path: path})
		}
	}
	upTo := f.fireLocked(evs)
	f.mu.Unlock()
	f.deliver(upTo)
	f.wait(g)
	return st, err
}

func (f *fakeConn) Create(path string, data []byte, flags int32, acl []zk.ACL) (string, error) {
	f.mu.Lock()
	err, _, g := f.beginLocked("Create", path)
	var evs []zk.Event
	if err == nil {
		evs, err = f.createLocked(path, data)
	}
	upTo := f.fireLocked(evs)
	f.mu.Unlock()
	f.deliver(upTo)
	f.wait(g)
	if err != nil {
		return "", err
	}
	return path, nil
}

func (f *fakeConn) CreateContainer(path string, data []byte, flags int32, acl []zk.ACL) (string, error) {
	return f.Create(path, data, flags, acl)
}

func (f *fakeConn) CreateTTL(path string, data []byte, flags int32, acl []zk.ACL, ttl time.Duration) (string, error) {
	return f.Create(path, data, flags, acl)
}

func (f *fakeConn) createLocked(path string, data []byte) ([]zk.Event, error) {
	if f.nodes[path] != nil {
		return nil, zk.ErrNodeExists
	}
	pp := parentOf(path)
	parent := f.nodes[pp]
	if parent == nil {
		return nil, zk.ErrNoNode
	}
	f.zxid++
	z := f.zxid
	f.nodes[path] = &fakeNode{
		data:     slices.Clone(data),
		stat:     zk.Stat{Czxid: z, Mzxid: z, Pzxid: z, Ctime: z, Mtime: z, DataLength: int32(len(data))},
		children: map[string]bool{},
	}
	parent.children[path[strings.LastIndexByte(path, '/')+1:]] = true
	parent.stat.Pzxid = z
	parent.stat.Cversion++
	parent.stat.NumChildren++
	var evs []zk.Event
	if takeWatchLocked(f.dataW, path) {
		evs = append(evs, zk.Event{Type: zk.EventNodeCreated, State: zk.StateHasSession, Path: path})
	}
	if takeWatchLocked(f.childW, pp) {
		evs = append(evs, zk.Event{Type: zk.EventNodeChildrenChanged, State: zk.StateHasSession, Path: pp})
	}
	return evs, nil
}

func (f *fakeConn) Delete(path string, version int32) error {
	f.mu.Lock()
	err, _, g := f.beginLocked("Delete", path)
	var evs []zk.Event
	n := f.nodes[path]
	switch {
	case err != nil:
	case n == nil:
		err = zk.ErrNoNode
	case version != -1 && version != n.stat.Version:
		err = zk.ErrBadVersion
	case len(n.children) > 0:
		err = zk.ErrNotEmpty
	default:
		f.zxid++
		delete(f.nodes, path)
		pp := parentOf(path)
		parent := f.nodes[pp]
		delete(parent.children, path[strings.LastIndexByte(path, '/')+1:])
		parent.stat.Pzxid = f.zxid
		parent.stat.Cversion++
		parent.stat.NumChildren--
		// The server sends one NodeDeleted to a client holding either watch of the path.
		d, c := takeWatchLocked(f.dataW, path), takeWatchLocked(f.childW, path)
		if d || c {
			evs = append(evs, zk.Event{Type: zk.EventNodeDeleted, State: zk.StateHasSession, Path: path})
		}
		if takeWatchLocked(f.childW, pp) {
			evs = append(evs, zk.Event{Type: zk.EventNodeChildrenChanged, State: zk.StateHasSession, Path: pp})
		}
	}
	upTo := f.fireLocked(evs)
	f.mu.Unlock()
	f.deliver(upTo)
	f.wait(g)
	return err
}

// mustCreate, mustSet and mustDelete write as another client would, and return the zxid.
func (f *fakeConn) mustCreate(path string, data string) int64 {
	if _, err := f.Create(path, []byte(data), 0, nil); err != nil {
		panic("create " + path + ": " + err.Error())
	}
	return f.lastZxid()
}

func (f *fakeConn) mustSet(path string, data string) int64 {
	if _, err := f.Set(path, []byte(data), -1); err != nil {
		panic("set " + path + ": " + err.Error())
	}
	return f.lastZxid()
}

func (f *fakeConn) mustDelete(path string) int64 {
	if err := f.Delete(path, -1); err != nil {
		panic("delete " + path + ": " + err.Error())
	}
	return f.lastZxid()
}

func (f *fakeConn) lastZxid() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.zxid
}

// dropSessionWatches forgets every watch, as the server does when a session ends.
func (f *fakeConn) dropSessionWatches() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dataW, f.childW = map[string]bool{}, map[string]bool{}
}
