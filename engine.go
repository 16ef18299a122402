package zkmirror

import (
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror/session"
)

// kind is what of a path is mirrored: its data or its children.
type kind int

const (
	kindData kind = iota
	kindChildren
)

// entry is the engine's state for one server path: the watches it believes armed, the reads
// queued or in flight, the last snapshots and the streams that hold them.
type entry struct {
	path string // on the server

	refs    [2]int32
	rec     *record // latest state of the held kinds; nil before the first contact of either
	dataS   *Stream[Value]
	kidsS   *Stream[Children] // streams exist while a Node handle uses them
	tree    *Tree             // a Tree holding this path; more of them in engine.moreTrees
	queued  [2]bool
	reading [2]bool
	again   [2]bool // dirtied while reading
	resync  [2]bool // the next applied read is flagged Resync
	// resynced: the kind's latest snapshot was emitted flagged Resync; a stream opened
	// later starts from it as it is.
	resynced [2]bool
	// armed: the path's watches the session holds, as far as the engine knows, while the
	// path has an entry (in the padding after the flags: no byte more); engine.armed holds
	// them once the entry is freed.
	armed watchBits

	// tomb is the Czxid of the newest incarnation seen deleted: a read showing that
	// incarnation (or an older one) again is stale and ignored.
	tomb int64
	// writeMark is the read sequence number when a write through the mirror was last
	// applied: a read issued before it saying the node is absent may predate the write.
	writeMark uint64

	// ZooKeeper sends no watch events to a client without read permission, so a path
	// that answered ErrNoAuth is read again on a slow, growing timer until it recovers.
	retry *noAuthRetry // nil unless a read answered ErrNoAuth
}

type noAuthRetry struct {
	timer [2]*time.Timer
	delay [2]time.Duration
}

// userPath is the entry's path as users see it.
func (g *engine) userPath(e *entry) string {
	if up, ok := g.root.toUser(e.path); ok {
		return up
	}
	return e.path
}

const (
	noAuthRetryMin = 2 * time.Second
	noAuthRetryMax = time.Minute
)

type qitem struct {
	e    *entry
	k    kind
	load bool // a first read or a resync read, which the read concurrency bounds
}

// watchBits names the watches of one server path that this session holds on the server
// (and go-zookeeper in its watcher table): they stay armed until they fire, whether or not
// the mirror still holds the path, because go-zookeeper v1.0.4 cannot remove a watch (it
// has no removeWatches).
type watchBits uint8

const (
	// armedData: the server's data watch of the path, set by a GetW or ExistsW (what
	// go-zookeeper calls data and exist watches: the server keeps them as one, fired by the
	// node's creation, change or deletion).
	armedData watchBits = 1 << iota
	// armedChild: the server's child watch, set by a ChildrenW, fired by a change of the
	// children or the node's deletion.
	armedChild
)

// arming tracks the reads of one path in flight: the watches they arm are recorded only if
// none of the path's watches fired meanwhile, since the event may have been for the watch
// just armed.
type arming struct {
	reads int
	fired watchBits
}

// eventReadFactor is how many times the read concurrency the reads in flight may grow to
// while only re-reads after watch events are queued: like hand-written watch code, which
// re-reads every path whose watch fired at once, so that a server slowed down for a moment
// does not leave the mirror behind by a queue of reads that wait for one another's replies.
// Still at most one read per (path, kind).
const eventReadFactor = 16

// engine owns the watch state of every mirrored path. One ZooKeeper watch per (path, kind)
// whatever the number of handles: reads are single-flight per (path, kind), driven by node
// events handed off by go-zookeeper's event callback, and run by a bounded pool of workers
// that exists only while there is work.
//
// Watches outlive the paths that armed them: a released path's watch stays on the server,
// and in go-zookeeper's watcher table, until it fires (the node changes or is deleted) or
// the session ends. The engine remembers those watches (armed), so a path acquired again
// while its watch is armed is read without arming a second one: churn on the same paths
// costs no memory, here or on the server. For many distinct released paths, what remains is
// one server watch of each kind per path until it fires, and on the client go-zookeeper's
// entry plus one small entry here for each of them, no more. A path that answers ErrNoAuth
// is the exception: the server may drop its events unsent, so its watches are armed again
// on each of its (slow, backed-off) re-reads.
type engine struct {
	conn       *zk.Conn
	log        *slog.Logger
	root       chroot
	maxWorkers int
	jitter     float64 // fraction of the session timeout
	timeout    func() time.Duration

	wg     sync.WaitGroup // workers and the resync driver
	timers sync.WaitGroup // no-auth retry timers armed or running
	kick   chan struct{}  // wakes the resync driver
	done   chan struct{}  // closed by close

	mu            sync.Mutex
	closed        bool
	entries       map[string]*entry
	queue         []qitem
	qhead         int
	workers       int
	connected     bool
	sid           int64 // session id of the current connection
	ready         bool  // reads may be issued: connected, and resynced if the session is new
	readySID      int64
	resyncPending bool
	rearmAll      bool
	readSeq       uint64
	heldKinds     int                // (path, kind) pairs held
	trees         map[*Tree]struct{} // open Trees
	moreTrees     map[*entry][]*Tree // the Trees after the first holding an entry (rare)
	// armed: the watches this session holds on the server, by server path, held or not;
	// an entry goes when its watches fire, on EventNotWatching, when watches could not be
	// restored after a reconnect, and with the session.
	armed     map[string]watchBits
	armedPeak int                // most entries armed has had since it was made, to give memory back
	arming    map[string]*arming // paths with reads in flight
	// historyBack: the current resync found the server's history went back (logged once).
	historyBack bool
	snap        *snapState // WithSnapshotFile's state; nil without it

	// counters for Stats
	reads, resyncs, watchesLost, conflated atomic.Int64

	busy    int        // workers reading now (the others are about to pop or to end)
	loading int        // queued items that are loads (see qitem)
	inbox   eventInbox // node events that found mu taken
}

// eventInbox takes node events from go-zookeeper's I/O goroutine when the engine's lock is
// held by someone else, so that goroutine, which also delivers every reply, never waits for
// a worker or a publish; the pump applies them.
type eventInbox struct {
	mu   sync.Mutex
	evs  []zk.Event
	wake chan struct{} // one slot
}

func (in *eventInbox) put(ev zk.Event) {
	in.mu.Lock()
	in.evs = append(in.evs, ev)
	in.mu.Unlock()
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

// take swaps the pending events for buf, emptied.
func (in *eventInbox) take(buf []zk.Event) []zk.Event {
	clear(buf)
	in.mu.Lock()
	evs := in.evs
	in.evs = buf[:0]
	in.mu.Unlock()
	return evs
}

// pump applies the events the inbox took while the lock was held, until the engine stops.
func (g *engine) pump() {
	defer g.wg.Done()
	var evs []zk.Event
	for {
		select {
		case <-g.done:
			return
		case <-g.inbox.wake:
		}
		evs = g.inbox.take(evs)
		if len(evs) == 0 {
			continue
		}
		g.mu.Lock()
		for _, ev := range evs {
			g.markDirtyLocked(ev)
		}
		g.mu.Unlock()
	}
}

func newEngine(log *slog.Logger, root chroot, maxWorkers int, jitter float64) *engine {
	return &engine{
		log: log, root: root, maxWorkers: maxWorkers, jitter: jitter,
		kick:      make(chan struct{}, 1),
		inbox:     eventInbox{wake: make(chan struct{}, 1)},
		done:      make(chan struct{}),
		entries:   make(map[string]*entry),
		trees:     make(map[*Tree]struct{}),
		moreTrees: make(map[*entry][]*Tree),
		armed:     make(map[string]watchBits),
		arming:    make(map[string]*arming),
	}
}

// start gives the engine its connection and starts the resync driver; it runs before the
// session delivers its first transition.
func (g *engine) start(conn *zk.Conn, timeout func() time.Duration) {
	g.conn, g.timeout = conn, timeout
	g.wg.Add(1)
	go g.driver()
	g.wg.Add(1)
	go g.pump()
}

// acquire makes the path's kind mirrored for a Node handle (one more holder) and returns
// its entry, whose stream for the kind exists until the last holder lets go.
func (g *engine) acquire(spath, upath string, k kind) (*entry, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, newErr("node", upath, ErrClosed, nil)
	}
	e := g.acquireLocked(spath, k)
	switch k {
	case kindData:
		if e.dataS == nil {
			e.dataS = newStream(Value.conflate)
			e.dataS.conflated = &g.conflated
			if e.rec.has(kindData) {
				v := e.rec.value(g.userPath(e))
				v.Resync = e.resynced[kindData]
				e.dataS.publish(v)
			}
		}
	case kindChildren:
		if e.kidsS == nil {
			e.kidsS = newStream(Children.conflate)
			e.kidsS.conflated = &g.conflated
			if e.rec.has(kindChildren) {
				c := e.rec.children(g.userPath(e))
				c.Resync = e.resynced[kindChildren]
				e.kidsS.publish(c)
			}
		}
	}
	return e, nil
}

// acquireLocked adds a holder of the path's kind; the first one queues its first read.
func (g *engine) acquireLocked(spath string, k kind) *entry {
	e := g.entries[spath]
	if e == nil {
		e = &entry{path: spath, armed: g.armed[spath]}
		g.entries[spath] = e
		g.setReleasedArmedLocked(spath, 0)
	}
	e.refs[k]++
	if e.refs[k] == 1 {
		g.heldKinds++
		g.restoreLocked(e, k)
		g.enqueueLocked(e, k)
	}
	return e
}

// release drops one holder; the last one closes the kind's stream, and when neither kind is
// held the entry is freed. Its server watches fire once more at most and are then ignored.
func (g *engine) release(e *entry, k kind) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.releaseLocked(e, k)
}

func (g *engine) releaseLocked(e *entry, k kind) {
	if e.refs[k] == 0 {
		return
	}
	e.refs[k]--
	if e.refs[k] > 0 {
		return
	}
	g.heldKinds--
	switch k {
	case kindData:
		if e.dataS != nil {
			e.dataS.close()
			e.dataS = nil
		}
	case kindChildren:
		if e.kidsS != nil {
			e.kidsS.close()
			e.kidsS = nil
		}
	}
	g.snapReleasedLocked(e, k)
	e.rec = e.rec.without(k)
	e.resync[k], e.resynced[k] = false, false
	g.stopRetriesLocked(e, k)
	if e.retry != nil {
		e.retry.delay[k] = 0
	}
	if e.refs[kindData] == 0 && e.refs[kindChildren] == 0 && g.entries[e.path] == e {
		delete(g.entries, e.path)
		g.setReleasedArmedLocked(e.path, e.armed) // the watches outlive the entry
		e.armed = 0
	}
}

// publishLocked makes rec the path's latest state, and hands the snapshot of kind k to the
// kind's stream and to the Trees holding the path. rec may be the current record, to emit
// it again flagged Resync.
func (g *engine) publishLocked(e *entry, k kind, rec *record, resync bool) {
	g.snapDirtyLocked()
	e.rec = rec
	e.resynced[k] = resync
	switch k {
	case kindData:
		if e.dataS != nil {
			v := rec.value(g.userPath(e))
			v.Resync = resync
			e.dataS.publish(v)
		}
	case kindChildren:
		if e.kidsS != nil {
			c := rec.children(g.userPath(e))
			c.Resync = resync
			e.kidsS.publish(c)
		}
	}
	if e.tree == nil {
		return
	}
	e.tree.onRecordLocked(e, k, rec, resync)
	if len(g.moreTrees) == 0 {
		return
	}
	if more := g.moreTrees[e]; more != nil {
		for _, t := range slices.Clone(more) {
			t.onRecordLocked(e, k, rec, resync)
		}
	}
}

// attachTreeLocked records that t holds e.
func (g *engine) attachTreeLocked(e *entry, t *Tree) {
	if e.tree == nil {
		e.tree = t
		return
	}
	g.moreTrees[e] = append(g.moreTrees[e], t)
}

// detachTreeLocked records that t no longer holds e.
func (g *engine) detachTreeLocked(e *entry, t *Tree) {
	more := g.moreTrees[e]
	if e.tree == t {
		e.tree = nil
		if len(more) > 0 {
			e.tree, more = more[0], more[1:]
		}
	} else if i := slices.Index(more, t); i >= 0 {
		more = slices.Delete(more, i, i+1)
	}
	if len(more) == 0 {
		delete(g.moreTrees, e)
	} else {
		g.moreTrees[e] = more
	}
}

// onNodeEvent runs on go-zookeeper's I/O goroutine: it only records the watches the event
// fired and marks paths dirty, and never waits for the engine's lock: when another goroutine
// holds it, the pump does that.
func (g *engine) onNodeEvent(ev zk.Event) {
	if kinds, fired := eventKinds(ev); kinds == ([2]bool{}) && fired == 0 {
		return
	}
	if !g.mu.TryLock() {
		g.inbox.put(ev)
		return
	}
	g.markDirtyLocked(ev)
	g.mu.Unlock()
}

// eventKinds returns the kinds a node event makes dirty and the session's watches it fired.
func eventKinds(ev zk.Event) (kinds [2]bool, fired watchBits) {
	switch ev.Type {
	case zk.EventNodeCreated:
		kinds = [2]bool{true, true}
		fired = armedData
	case zk.EventNodeDeleted:
		kinds = [2]bool{true, true}
		fired = armedData | armedChild
	case zk.EventNodeDataChanged:
		kinds[kindData] = true
		fired = armedData
	case zk.EventNodeChildrenChanged:
		kinds[kindChildren] = true
		fired = armedChild
	case zk.EventNotWatching:
		// go-zookeeper dropped the path's watches (session expired or connection closed);
		// the session's transitions drive the resync.
		fired = armedData | armedChild
	}
	return kinds, fired
}

// markDirtyLocked records the watches a node event fired and queues a read of every held
// kind it makes dirty. Events may be applied out of order (the pump's after a later one that
// found the lock free): both are idempotent, so the outcome is the same.
func (g *engine) markDirtyLocked(ev zk.Event) {
	kinds, fired := eventKinds(ev)
	if fired != 0 {
		g.firedLocked(ev.Path, fired)
	}
	if e := g.entries[ev.Path]; e != nil {
		for k, dirty := range kinds {
			if dirty && e.refs[k] > 0 {
				g.enqueueLocked(e, kind(k))
			}
		}
	}
}

// onWatchesLost runs on go-zookeeper's goroutine when re-sending watches after a reconnect
// failed: every held path is read again.
func (g *engine) onWatchesLost() {
	g.watchesLost.Add(1)
	g.mu.Lock()
	g.rearmAll = true
	g.forgetWatchesLocked()
	g.mu.Unlock()
	g.poke()
}

func (g *engine) poke() {
	select {
	case g.kick <- struct{}{}:
	default:
	}
}

// onTransition runs on the session's goroutine, in order.
func (g *engine) onTransition(t session.Transition) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.State != session.StateConnected {
		g.connected = false
		g.ready = false
		return
	}
	g.connected = true
	g.sid = t.SessionID
	if t.NewSession {
		g.forgetWatchesLocked() // the old session's watches died with it
	}
	g.dropRestoredLocked()
	if t.NewSession && t.Generation > 1 {
		g.resyncPending = true
	}
	if g.resyncPending || g.rearmAll {
		g.poke()
		return
	}
	g.ready, g.readySID = true, t.SessionID
	g.spawnLocked()
}

// driver runs resyncs: after a new session it waits a random part of the session timeout,
// calls Sync so the server it reads from has caught up with the leader, then re-reads every
// mirrored path with Resync set.
func (g *engine) driver() {
	defer g.wg.Done()
	for {
		select {
		case <-g.done:
			return
		case <-g.kick:
		}
		g.mu.Lock()
		pending, rearm, connected, sid := g.resyncPending, g.rearmAll, g.connected, g.sid
		g.mu.Unlock()
		if !connected || (!pending && !rearm) {
			continue
		}
		if pending && g.jitter > 0 {
			d := time.Duration(rand.Float64() * g.jitter * float64(g.timeout()))
			t := time.NewTimer(d)
			select {
			case <-g.done:
				t.Stop()
				return
			case <-t.C:
			}
		}
		if pending {
			if _, err := g.conn.Sync(g.root.toServer("/")); err != nil {
				g.log.Warn("sync before resync failed; retrying on the next connection", "err", err)
				continue
			}
		}
		g.mu.Lock()
		if !g.connected || g.sid != sid {
			g.mu.Unlock()
			continue
		}
		n := 0
		for _, e := range g.entries {
			for k := range 2 {
				if e.refs[k] > 0 {
					if pending {
						e.resync[k] = true
					}
					g.enqueueLocked(e, kind(k))
					n++
				}
			}
		}
		if pending {
			g.historyBack = false
			for t := range g.trees {
				t.beginResyncLocked()
			}
		}
		g.resyncPending = false
		g.rearmAll = false
		g.ready, g.readySID = true, sid
		g.spawnLocked()
		g.mu.Unlock()
		if pending {
			g.resyncs.Add(1)
			g.log.Info("resync started", "paths", n)
		} else {
			g.log.Info("watches re-armed after a failed re-send", "paths", n)
		}
	}
}

func (g *engine) enqueueLocked(e *entry, k kind) {
	if e.reading[k] {
		e.again[k] = true
		return
	}
	if e.queued[k] {
		return
	}
	e.queued[k] = true
	load := !e.rec.has(k) || e.resync[k]
	if load {
		g.loading++
	}
	g.queue = append(g.queue, qitem{e, k, load})
	g.spawnLocked()
}

// workerLimitLocked is how many workers may run: the read concurrency while loads are
// queued, more while only re-reads after watch events are.
func (g *engine) workerLimitLocked() int {
	if g.loading > 0 || g.maxWorkers > math.MaxInt/eventReadFactor {
		return g.maxWorkers
	}
	return g.maxWorkers * eventReadFactor
}

func (g *engine) spawnLocked() {
	if g.closed || !g.ready {
		return
	}
	// A worker blocked in a read cannot take a queued path: count the idle ones.
	for g.workers < g.workerLimitLocked() && g.workers-g.busy < len(g.queue)-g.qhead {
		g.workers++
		g.wg.Add(1)
		go g.work()
	}
}

func (g *engine) popLocked() (qitem, bool) {
	if g.qhead == len(g.queue) {
		return qitem{}, false
	}
	it := g.queue[g.qhead]
	g.queue[g.qhead] = qitem{}
	g.qhead++
	if it.load {
		g.loading--
	}
	if g.qhead == len(g.queue) {
		g.queue = g.queue[:0]
		g.qhead = 0
	} else if g.qhead > 1024 && g.qhead*2 > len(g.queue) {
		g.queue = append(g.queue[:0:0], g.queue[g.qhead:]...)
		g.qhead = 0
	}
	return it, true
}

// work reads queued paths until the queue is empty or reads must wait for a connection.
func (g *engine) work() {
	defer g.wg.Done()
	for {
		g.mu.Lock()
		if g.closed || !g.ready || g.workers > g.workerLimitLocked() {
			g.workers--
			g.mu.Unlock()
			return
		}
		it, ok := g.popLocked()
		if !ok {
			g.workers--
			g.mu.Unlock()
			return
		}
		e, k := it.e, it.k
		e.queued[k] = false
		if e.refs[k] == 0 {
			g.mu.Unlock()
			continue
		}
		e.reading[k] = true
		g.busy++
		g.readSeq++
		seq, sid := g.readSeq, g.readySID
		g.beginArmingLocked(e.path)
		g.mu.Unlock()

		g.reads.Add(1)
		var r readResult
		var armed watchBits
		if k == kindData {
			r, armed = g.readData(e.path)
		} else {
			r, armed = g.readChildren(e.path)
		}
		// A request queued while the session changed may have been answered by the new
		// session before its Sync: such an answer is not trusted.
		sameSession := g.conn.SessionID() == sid

		g.mu.Lock()
		g.busy--
		// The server may drop, unsent, the events of a client that lost read permission:
		// the watches of such a path are never relied upon, and armed again on each read.
		noAuth := errors.Is(r.err, zk.ErrNoAuth)
		g.endArmingLocked(e.path, armed, sameSession && !g.closed && !noAuth)
		if noAuth {
			g.firedLocked(e.path, armedData|armedChild)
		}
		e.reading[k] = false
		switch {
		case g.closed:
		case !sameSession || (r.err != nil && isConnErr(r.err)):
			e.again[k] = false
			g.enqueueLocked(e, k)
		default:
			// A definite failure other than absence: the snapshot carries it, as one of
			// our errors naming the path as users see it.
			r.err = wrapZK("read", g.userPath(e), r.err)
			if e.refs[k] > 0 {
				if !g.applyReadLocked(e, k, r, seq) {
					e.again[k] = true
				}
				g.scheduleRetryLocked(e, k, errKey(r.err) == ErrNoAuth)
			}
			if e.again[k] {
				e.again[k] = false
				g.enqueueLocked(e, k)
			}
		}
		g.mu.Unlock()
	}
}

// scheduleRetryLocked arms (or, once the path reads fine, disarms) the slow re-read of a
// path the mirror may not read.
func (g *engine) scheduleRetryLocked(e *entry, k kind, noAuth bool) {
	if !noAuth {
		if e.retry != nil {
			g.stopRetriesLocked(e, k)
			e.retry.delay[k] = 0
			if e.retry.delay == [2]time.Duration{} {
				e.retry = nil
			}
		}
		return
	}
	if e.retry == nil {
		e.retry = &noAuthRetry{}
	}
	r := e.retry
	if r.timer[k] != nil || g.closed {
		return
	}
	d := r.delay[k]
	switch {
	case d == 0:
		d = noAuthRetryMin
	case d < noAuthRetryMax:
		d = min(2*d, noAuthRetryMax)
	}
	r.delay[k] = d
	g.timers.Add(1)
	r.timer[k] = time.AfterFunc(d, func() {
		defer g.timers.Done()
		g.mu.Lock()
		defer g.mu.Unlock()
		r.timer[k] = nil
		if !g.closed && e.refs[k] > 0 {
			g.enqueueLocked(e, k)
		}
	})
}

func (g *engine) stopRetriesLocked(e *entry, k kind) {
	if e.retry != nil && e.retry.timer[k] != nil {
		if e.retry.timer[k].Stop() {
			g.timers.Done() // its func will not run
		}
		e.retry.timer[k] = nil
	}
}

type readResult struct {
	exists bool
	data   []byte
	names  []string
	stat   Stat
	err    error // a definite failure other than absence (ErrNoAuth …) or a connection error
}

// readData reads a path's data, arming its data watch unless the session holds it already,
// and returns the watches it armed.
func (g *engine) readData(path string) (readResult, watchBits) {
	var armed watchBits
	for range 8 {
		var data []byte
		var st *zk.Stat
		var err error
		if g.isArmed(path, armedData) {
			data, st, err = g.conn.Get(path)
		} else if data, st, _, err = g.conn.GetW(path); err == nil {
			armed |= armedData
		}
		switch {
		case err == nil:
			if data == nil {
				data = []byte{}
			}
			return readResult{exists: true, data: data, stat: statFrom(st)}, armed
		case errors.Is(err, zk.ErrNoNode):
			// A data watch armed while the node existed has fired by now: its event
			// comes before this answer.
			ok, _, err := g.exists(path, &armed)
			if err != nil {
				return readResult{err: err}, armed
			}
			if !ok {
				return readResult{}, armed
			}
			// Created meanwhile; the exists watch became its data watch. Read again.
		case errors.Is(err, zk.ErrNoAuth):
			// Without read permission exists still answers. It arms no watch: ZooKeeper sends
			// no events to a client that may not read the node, so a watch would only add a
			// channel to go-zookeeper's table at every retry; the retry timer follows the path.
			ok, st, err2 := g.conn.Exists(path)
			if err2 != nil {
				return readResult{err: err2}, armed
			}
			return readResult{exists: ok, stat: statFrom(st), err: zk.ErrNoAuth}, armed
		default:
			return readResult{err: err}, armed
		}
	}
	return readResult{err: zk.ErrConnectionClosed}, armed // churned too fast; try again
}

// readChildren reads a path's children, arming its child watch unless the session holds it
// already (and its data watch while the node is missing), and returns the watches it armed.
func (g *engine) readChildren(path string) (readResult, watchBits) {
	var armed watchBits
	for range 8 {
		var names []string
		var st *zk.Stat
		var err error
		if g.isArmed(path, armedChild) {
			names, st, err = g.conn.Children(path)
		} else if names, st, _, err = g.conn.ChildrenW(path); err == nil {
			armed |= armedChild
		}
		switch {
		case err == nil:
			return readResult{exists: true, names: sortedNames(names), stat: statFrom(st)}, armed
		case errors.Is(err, zk.ErrNoNode):
			// Arm an exists watch even when the data kind is held: its concurrent read may
			// have found the node created meanwhile and armed a data watch that fired
			// since. The session's data watch, if armed, serves as the exists watch.
			ok, _, err := g.exists(path, &armed)
			if err != nil {
				return readResult{err: err}, armed
			}
			if !ok {
				return readResult{}, armed
			}
		case errors.Is(err, zk.ErrNoAuth):
			ok, st, err2 := g.conn.Exists(path) // no watch: see readData
			if err2 != nil {
				return readResult{err: err2}, armed
			}
			return readResult{exists: ok, stat: statFrom(st), err: zk.ErrNoAuth}, armed
		default:
			return readResult{err: err}, armed
		}
	}
	return readResult{err: zk.ErrConnectionClosed}, armed
}

// exists asks whether a path exists, arming its data watch unless the session holds it
// already (recorded in armed).
func (g *engine) exists(path string, armed *watchBits) (bool, *zk.Stat, error) {
	if *armed&armedData != 0 || g.isArmed(path, armedData) {
		return g.conn.Exists(path)
	}
	ok, st, _, err := g.conn.ExistsW(path)
	if err == nil {
		*armed |= armedData
	}
	return ok, st, err
}

// isArmed reports whether the session holds the path's watch w, as far as the engine knows.
func (g *engine) isArmed(path string, w watchBits) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.armedLocked(path)&w != 0
}

// armedLocked returns the path's watches the session holds: in its entry while it has one,
// in g.armed once the entry is freed.
func (g *engine) armedLocked(path string) watchBits {
	if e := g.entries[path]; e != nil {
		return e.armed
	}
	return g.armed[path]
}

// setArmedLocked records the path's watches where armedLocked finds them.
func (g *engine) setArmedLocked(path string, b watchBits) {
	if e := g.entries[path]; e != nil {
		e.armed = b
		return
	}
	g.setReleasedArmedLocked(path, b)
}

// setReleasedArmedLocked records the watches of a path without an entry.
func (g *engine) setReleasedArmedLocked(path string, b watchBits) {
	if b != 0 {
		g.armed[path] = b
		g.armedPeak = max(g.armedPeak, len(g.armed))
		return
	}
	if _, ok := g.armed[path]; !ok {
		return
	}
	delete(g.armed, path)
	// A map keeps its buckets when entries go: rebuild it once most are gone.
	if g.armedPeak >= 1024 && len(g.armed) < g.armedPeak/4 {
		m := make(map[string]watchBits, len(g.armed))
		for p, b := range g.armed {
			m[p] = b
		}
		g.armed, g.armedPeak = m, len(g.armed)
	}
}

// beginArmingLocked notes a read of the path in flight.
func (g *engine) beginArmingLocked(path string) {
	a := g.arming[path]
	if a == nil {
		a = &arming{}
		g.arming[path] = a
	}
	a.reads++
}

// endArmingLocked ends a read of the path that armed the watches w; they are remembered if
// record is set and none of the path's watches of their kind fired while it ran.
func (g *engine) endArmingLocked(path string, w watchBits, record bool) {
	a := g.arming[path]
	if record {
		if w &^= a.fired; w != 0 {
			g.setArmedLocked(path, g.armedLocked(path)|w)
		}
	}
	if a.reads--; a.reads == 0 {
		delete(g.arming, path)
	}
}

// firedLocked forgets the path's watches w: they fired or were dropped.
func (g *engine) firedLocked(path string, w watchBits) {
	if a := g.arming[path]; a != nil {
		a.fired |= w
	}
	if b := g.armedLocked(path); b&w != 0 {
		g.setArmedLocked(path, b&^w)
	}
}

// forgetWatchesLocked forgets every watch: the session ended, or the server did not take
// them back after a reconnect.
func (g *engine) forgetWatchesLocked() {
	for _, a := range g.arming {
		a.fired = armedData | armedChild
	}
	g.armed = make(map[string]watchBits)
	g.armedPeak = 0
	for _, e := range g.entries {
		e.armed = 0
	}
}

// sortedNames sorts child names as go-zookeeper decoded them (a slice no one else holds)
// in place; never nil.
func sortedNames(names []string) []string {
	if names == nil {
		return []string{}
	}
	slices.Sort(names)
	return names
}

// errKey reduces an error to what matters for deciding whether a snapshot changed.
func errKey(err error) error {
	for _, s := range []error{ErrNoAuth, ErrNoNode, ErrTimeout} {
		if errors.Is(err, s) {
			return s
		}
	}
	return err
}

// applyReadLocked applies a read result under the monotonic rules; it returns false when
// the result cannot be trusted and the path must be read again.
func (g *engine) applyReadLocked(e *entry, k kind, r readResult, seq uint64) bool {
	// The first read after a state restored from the snapshot file replaces it, flagged
	// Resync, whatever the zxids: the server always wins.
	resync := e.resync[k] || e.rec.restored(k)
	zxid := r.stat.Mzxid
	if k == kindChildren {
		zxid = r.stat.Pzxid
	}
	verdict, back := g.admit(e, k, r.exists, r.stat.Czxid, zxid, r.err, resync, seq, true)
	if verdict == readAgain {
		return false
	}
	if back && !g.historyBack {
		g.historyBack = true
		curC, curZ := e.rec.zxids(k)
		g.log.Warn("the server's history went back (cluster rebuilt, or restored from an older backup): the mirror goes on from the server's state",
			"path", g.userPath(e), "czxid", r.stat.Czxid, "zxid", zxid, "mirroredCzxid", curC, "mirroredZxid", curZ)
	}
	if resync {
		e.resync[k] = false
	}
	if verdict == emitNew {
		g.publishLocked(e, k, e.rec.with(k, r.exists, r.data, r.names, r.stat, r.err), resync)
	}
	return true
}

// historyWentBack reports whether a read shows a path older than the mirror knew it: a
// state before the one mirrored, or an incarnation before one seen deleted. Within one
// server history a read after Sync never does.
func historyWentBack(e *entry, k kind, exists bool, czxid, zxid int64) bool {
	if !exists {
		return false
	}
	if cur := e.rec; cur.has(k) && cur.exists(k) && !cur.restored(k) { // the file is no history
		curC, curZ := cur.zxids(k)
		if zxidAfter(curC, curZ, czxid, zxid) {
			return true
		}
	}
	return e.tomb != 0 && czxid < e.tomb
}

// verdict is what admit decides about a new state.
type verdict int

const (
	keepCurrent verdict = iota // nothing to emit
	emitNew                    // emit the new state
	readAgain                  // the state cannot be trusted: read the path again
)

// admit decides what a new state means against the last one. Outside a resync the
// monotonic rules hold: an older state, or an incarnation seen deleted, is ignored. A resync
// read (made after Sync in a new session) is authoritative: it replaces the mirrored state
// even when its zxids are lower, since then the server's history restarted (back reports
// it), and the tombstone of the old history goes with it; only a read issued before a
// write through the mirror is not trusted, as it may predate the write.
func (g *engine) admit(e *entry, k kind, exists bool, czxid, zxid int64, err error, resync bool, seq uint64, fromRead bool) (v verdict, back bool) {
	if resync && fromRead {
		if seq <= e.writeMark {
			return readAgain, false
		}
		back = historyWentBack(e, k, exists, czxid, zxid)
		if !exists || czxid <= e.tomb {
			e.tomb = 0
		}
		return emitNew, back
	}
	return g.admitMonotonic(e, k, exists, czxid, zxid, err, resync, seq, fromRead), false
}

// admitMonotonic is admit outside an authoritative read.
func (g *engine) admitMonotonic(e *entry, k kind, exists bool, czxid, zxid int64, err error, resync bool, seq uint64, fromRead bool) verdict {
	var curExists, has bool
	var curC, curZ int64
	var curErr error
	if cur := e.rec; cur.has(k) && !cur.restored(k) { // a restored state is no contact
		has, curExists, curErr = true, cur.exists(k), cur.err(k)
		curC, curZ = cur.zxids(k)
	}
	if exists && e.tomb != 0 && czxid <= e.tomb {
		if !has {
			return readAgain // first contact with a stale answer: read again
		}
		return keepCurrent
	}
	if !has {
		if !exists && fromRead && seq <= e.writeMark {
			return readAgain
		}
		return emitNew
	}
	switch {
	case exists && curExists:
		if zxidAfter(czxid, zxid, curC, curZ) {
			return emitNew
		}
		if czxid == curC && zxid == curZ {
			if resync || errKey(err) != errKey(curErr) {
				return emitNew
			}
			return keepCurrent
		}
		return keepCurrent
	case exists && !curExists:
		if fromRead && seq <= e.writeMark {
			return readAgain // issued before a write that found the node absent
		}
		return emitNew
	case !exists && curExists:
		if fromRead && seq <= e.writeMark {
			return readAgain
		}
		e.tomb = max(e.tomb, curC)
		return emitNew
	default: // absent and absent
		if resync || errKey(err) != errKey(curErr) {
			return emitNew
		}
		return keepCurrent
	}
}

// applyWrite applies the state a write through the mirror produced (read your writes):
// a Set's returned Stat with its data, or a read-back after Create or Delete. A held path
// whose first read is still in flight takes the write as its first contact: that read,
// issued before the write, cannot then replace it with an older state.
func (g *engine) applyWrite(spath string, k kind, exists bool, data []byte, names []string, st Stat) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.entries[spath]
	if e == nil || e.refs[k] == 0 {
		return
	}
	zxid := st.Mzxid
	if k == kindChildren {
		zxid = st.Pzxid
	}
	if v, _ := g.admit(e, k, exists, st.Czxid, zxid, nil, false, 0, false); v == emitNew {
		g.publishLocked(e, k, e.rec.with(k, exists, data, names, st, nil), e.rec.restored(k))
	}
	e.writeMark = g.readSeq
}

// counts returns the number of paths and of (path, kind) pairs mirrored.
func (g *engine) counts() (paths, kinds int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.entries), g.heldKinds
}

// held reports whether the kind of a server path is mirrored.
func (g *engine) held(spath string, k kind) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.entries[spath]
	return e != nil && e.refs[k] > 0
}

// stop tells the workers and the driver to end: no read starts after it. Idempotent.
func (g *engine) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return
	}
	g.closed = true
	close(g.done)
	for _, e := range g.entries {
		g.stopRetriesLocked(e, kindData)
		g.stopRetriesLocked(e, kindChildren)
	}
}

// close stops the engine, waits for its goroutines (the connection must be closed, so no
// read can block) and closes every stream and Tree.
func (g *engine) close() {
	g.stop()
	g.wg.Wait()
	g.timers.Wait()
	g.mu.Lock()
	var datas []*Stream[Value]
	var kids []*Stream[Children]
	for _, e := range g.entries {
		if e.dataS != nil {
			datas = append(datas, e.dataS)
		}
		if e.kidsS != nil {
			kids = append(kids, e.kidsS)
		}
	}
	trees := g.trees
	g.trees = map[*Tree]struct{}{}
	g.mu.Unlock()
	for t := range trees {
		t.shutdown()
	}
	for _, s := range datas {
		s.close()
	}
	for _, s := range kids {
		s.close()
	}
}
