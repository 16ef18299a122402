package engine

import (
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror/internal/inbox"
	"github.com/zkmirror/zkmirror/internal/run"
	"github.com/zkmirror/zkmirror/session"
)

// entry is the engine's state for one server path (its key in Engine.entries): its
// holders, the watches it believes armed, the reads queued or in flight and the last
// record. It is what every held path costs, so it is packed into 32 bytes: flags in bits
// (which kinds are held among them), the holders after the first in Engine.more, and what
// few paths need (a tombstone, a write's mark, a retry timer) in Engine.aux.
//
// Guarded by Engine.mu, like every field of an entry.
type entry struct {
	rec *Record // latest state of the held kinds; nil before the first contact of either
	// first is the path's first holder, which most paths have alone; the others are in
	// Engine.more. firstKinds says which kinds first holds.
	first Holder
	flags entryFlags
	// firstKinds: the kinds first holds.
	firstKinds kindBits
	// armed: the path's watches the session holds, as far as the engine knows, while the
	// path has an entry; Engine.armed holds them once the entry is freed.
	armed watchBits
}

// entryFlags are an entry's flags; the per-kind ones come in pairs, the children kind's
// the data kind's shifted left by one.
type entryFlags uint16

const (
	fQueued entryFlags = 1 << iota // the kind is queued for a read
	_
	fReading // a read of the kind is in flight
	_
	fAgain // the kind was dirtied while reading
	_
	fResync // the kind's next applied read is flagged resync
	_
	// fResynced: the kind's latest record was delivered flagged resync; a holder that
	// acquires it later starts from it as it is.
	fResynced
	_
	fHeld // the kind has at least one holder
	_
	fHasMore // the entry has holders in Engine.more
	fHasAux  // the entry has an entryAux in Engine.aux
)

func (e *entry) is(f entryFlags, k Kind) bool { return e.flags&(f<<k) != 0 }

func (e *entry) set(f entryFlags, k Kind, on bool) {
	if on {
		e.flags |= f << k
	} else {
		e.flags &^= f << k
	}
}

func (e *entry) hasMore() bool { return e.flags&fHasMore != 0 }

// entryAux is what few entries need, kept in Engine.aux so that an entry stays small.
type entryAux struct {
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

// auxLocked returns e's aux; nil if it has none.
func (g *Engine) auxLocked(e *entry) *entryAux {
	if e.flags&fHasAux == 0 {
		return nil
	}
	return g.aux[e]
}

func (g *Engine) retryLocked(e *entry) *noAuthRetry {
	if a := g.auxLocked(e); a != nil {
		return a.retry
	}
	return nil
}

// extLocked returns e's aux, made if need be.
func (g *Engine) extLocked(e *entry) *entryAux {
	if a := g.auxLocked(e); a != nil {
		return a
	}
	a := &entryAux{}
	g.aux[e] = a
	e.flags |= fHasAux
	return a
}

func (g *Engine) setTombLocked(e *entry, t int64) {
	if t != 0 || e.flags&fHasAux != 0 {
		g.extLocked(e).tomb = t
	}
}

// freeLocked forgets a released entry's side state.
func (g *Engine) freeLocked(e *entry) {
	if e.flags&fHasAux != 0 {
		delete(g.aux, e)
		e.flags &^= fHasAux
	}
}

// kindBits is a set of kinds.
type kindBits uint8

func bitOf(k Kind) kindBits { return 1 << k }

// holderRef is one holder of a path after its first, and the kinds it holds.
type holderRef struct {
	h     Holder
	kinds kindBits
}

type noAuthRetry struct {
	timer [2]*time.Timer
	delay [2]time.Duration
}

const (
	noAuthRetryMin = 2 * time.Second
	noAuthRetryMax = time.Minute
)

type qitem struct {
	path string
	e    *entry
	k    Kind
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

// Holder is what holds (path, kind) pairs of the engine: it receives their records.
//
// Deliver is called with the engine's lock held, in zxid order per (path, kind), with
// every new record of a pair the holder holds (or the current one again, flagged resync,
// when a resync re-read it unchanged). It must return at once and must not call the
// engine: a holder that has more to do queues the record and applies it on its own
// goroutine. rec is immutable and shared with the other holders.
type Holder interface {
	Deliver(path string, k Kind, rec *Record, resync bool)
}

// ResyncListener is told when a resync starts: every held (path, kind) is being re-read,
// and each one's next delivery is flagged resync. ResyncStarted is called with the engine's
// lock held, before any of those deliveries; the same rules as Deliver apply.
type ResyncListener interface {
	ResyncStarted()
}

// Config is what the engine is made with.
type Config struct {
	Log *slog.Logger
	// Chroot is the server path users' paths are under ("" for none): the resync syncs it,
	// and a snapshot file belongs to it.
	Chroot string
	// ReadConcurrency bounds the first reads and the resync reads in flight (at least 1).
	ReadConcurrency int
	// Jitter is the fraction of the session timeout a resync waits at most before it starts.
	Jitter float64
	// UserPath maps a server path to the path users see, for log lines.
	UserPath func(spath string) string
	// ReadErr turns the error of a failed read into what the record carries; ErrKey reduces
	// such an error to what decides whether a state changed.
	ReadErr func(spath string, err error) error
	ErrKey  func(err error) error
	// SnapshotFile: see WithSnapshotFile; "" for none. ValidPath tells the paths a file may
	// hold.
	SnapshotFile string
	ValidPath    func(spath string) bool
}

// Engine owns the watch state of every mirrored path. One ZooKeeper watch per (path, kind)
// whatever the number of holders: reads are single-flight per (path, kind), driven by node
// events handed off by go-zookeeper's event callback, and run by a bounded pool of workers
// that exists only while there is work. It delivers each new record of a pair to the
// pair's holders, and knows nothing else of them.
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
//
// Lifecycle: New, then Start with the connection before the session's first transition;
// Stop (no read starts after it), then, once the connection is closed, Close, which waits
// for every goroutine of the engine.
//
// Lock order: see the package doc.
type Engine struct {
	cfg        Config
	log        *slog.Logger
	maxWorkers int

	// Set by Start, then read-only.
	conn    Conn
	timeout func() time.Duration

	grp    run.Group      // workers, the resync driver and the pump
	timers sync.WaitGroup // no-auth retry timers armed or running
	kick   inbox.Signal   // wakes the resync driver

	mu sync.Mutex // guards everything below, and every entry
	// closed: Stop was called.
	closed        bool
	entries       map[string]*entry
	more          map[*entry][]holderRef // the holders of an entry after its first (rare)
	aux           map[*entry]*entryAux   // what few entries need (fHasAux)
	listeners     map[ResyncListener]struct{}
	queue         inbox.FIFO[qitem] // (path, kind) pairs to read
	workers       int
	busy          int // workers reading now (the others are about to pop or to end)
	loading       int // queued items that are loads (see qitem)
	connected     bool
	sid           int64 // session id of the current connection
	ready         bool  // reads may be issued: connected, and resynced if the session is new
	readySID      int64
	resyncPending bool
	rearmAll      bool
	readSeq       uint64
	heldKinds     int // (path, kind) pairs held
	// armed: the watches this session holds on the server, by server path, for paths
	// without an entry; an entry goes when its watches fire, on EventNotWatching, when
	// watches could not be restored after a reconnect, and with the session.
	armed     map[string]watchBits
	armedPeak int                // most entries armed has had since it was made, to give memory back
	arming    map[string]*arming // paths with reads in flight
	// historyBack: the current resync found the server's history went back (logged once).
	historyBack bool
	snap        *snapState  // WithSnapshotFile's state; nil without it
	snapw       *snapWriter // set by New, then read-only; nil without a snapshot file

	// Counters for Stats; atomic.
	reads, resyncs, watchesLost atomic.Int64

	// Node events that found mu taken; the pump applies them. Its own lock.
	events inbox.Queue[zk.Event]
}

// Stats are the engine's counters.
type Stats struct {
	Paths, Kinds                int
	Reads, Resyncs, WatchesLost int64
}

// New makes an engine; with a snapshot file, it loads the file.
func New(cfg Config) *Engine {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.UserPath == nil {
		cfg.UserPath = func(p string) string { return p }
	}
	if cfg.ReadErr == nil {
		cfg.ReadErr = func(_ string, err error) error { return err }
	}
	if cfg.ErrKey == nil {
		cfg.ErrKey = func(err error) error { return err }
	}
	g := &Engine{
		cfg: cfg, log: cfg.Log, maxWorkers: max(1, cfg.ReadConcurrency),
		kick:      inbox.NewSignal(),
		events:    inbox.NewQueue[zk.Event](),
		grp:       run.NewGroup(),
		entries:   make(map[string]*entry),
		more:      make(map[*entry][]holderRef),
		aux:       make(map[*entry]*entryAux),
		listeners: make(map[ResyncListener]struct{}),
		armed:     make(map[string]watchBits),
		arming:    make(map[string]*arming),
	}
	if cfg.SnapshotFile != "" {
		g.snap = newSnapState(cfg.SnapshotFile, cfg.Chroot, cfg.ValidPath, g.log)
		g.snapw = &snapWriter{path: cfg.SnapshotFile, log: g.log, g: g, grp: run.NewGroup()}
	}
	return g
}

// Start gives the engine its connection and starts its goroutines; it runs before the
// session delivers its first transition.
func (g *Engine) Start(conn Conn, timeout func() time.Duration) {
	g.conn, g.timeout = conn, timeout
	g.grp.Go(g.driver)
	g.grp.Go(g.pump)
	if g.snapw != nil {
		g.snapw.grp.Go(g.snapw.run)
	}
}

// pump applies the node events the callback handed over while the lock was held, until
// the engine stops.
func (g *Engine) pump() {
	var evs []zk.Event
	for {
		select {
		case <-g.grp.Stopping():
			return
		case <-g.events.Ready():
		}
		evs = g.events.Take(evs)
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

// Acquire makes h a holder of the path's kind. current, if not nil, is called with the
// engine's lock held, before any delivery of the pair to h, with the pair's latest record
// (nil before first contact) and whether it was delivered flagged resync: a holder starts
// from it. A holder holds a pair once; the first holder of a pair starts its reads.
func (g *Engine) Acquire(spath string, k Kind, h Holder, current func(rec *Record, resynced bool)) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrStopped
	}
	e := g.acquireLocked(spath, k, h)
	if current != nil {
		rec := e.rec
		if !rec.Has(k) {
			rec = nil
		}
		current(rec, e.is(fResynced, k))
	}
	return nil
}

// Release ends h's hold of the path's kind. The last holder's release stops the pair's
// reads, and when neither kind is held the entry is freed. Its server watches fire once
// more at most and are then ignored.
func (g *Engine) Release(spath string, k Kind, h Holder) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if e := g.entries[spath]; e != nil {
		g.releaseLocked(spath, e, k, h)
	}
}

// AddResyncListener tells l of every resync from now on, until RemoveResyncListener.
func (g *Engine) AddResyncListener(l ResyncListener) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.listeners[l] = struct{}{}
}

// RemoveResyncListener stops telling l.
func (g *Engine) RemoveResyncListener(l ResyncListener) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.listeners, l)
}

// acquireLocked adds h as a holder of the path's kind; the first one queues its first read.
func (g *Engine) acquireLocked(spath string, k Kind, h Holder) *entry {
	e := g.entries[spath]
	if e == nil {
		e = &entry{armed: g.armed[spath]}
		g.entries[spath] = e
		g.setReleasedArmedLocked(spath, 0)
	}
	if !g.addHolderLocked(e, k, h) {
		return e // held already
	}
	if !e.is(fHeld, k) {
		e.set(fHeld, k, true)
		g.heldKinds++
		g.restoreLocked(spath, e, k)
		g.enqueueLocked(spath, e, k)
	}
	return e
}

// addHolderLocked records that h holds e's kind k; false if it did already.
func (g *Engine) addHolderLocked(e *entry, k Kind, h Holder) bool {
	b := bitOf(k)
	switch {
	case e.first == h:
		if e.firstKinds&b != 0 {
			return false
		}
		e.firstKinds |= b
		return true
	case e.first == nil:
		e.first, e.firstKinds = h, b
		return true
	}
	more := g.more[e]
	for i := range more {
		if more[i].h == h {
			if more[i].kinds&b != 0 {
				return false
			}
			more[i].kinds |= b
			return true
		}
	}
	g.more[e] = append(more, holderRef{h, b})
	e.flags |= fHasMore
	return true
}

// removeHolderLocked records that h no longer holds e's kind k; false if it did not.
func (g *Engine) removeHolderLocked(e *entry, k Kind, h Holder) bool {
	b := bitOf(k)
	if e.first == h {
		if e.firstKinds&b == 0 {
			return false
		}
		if e.firstKinds &^= b; e.firstKinds == 0 {
			e.first = nil
			if e.hasMore() { // the next holder moves up
				more := g.more[e]
				e.first, e.firstKinds = more[0].h, more[0].kinds
				g.setMoreLocked(e, more[1:])
			}
		}
		return true
	}
	if !e.hasMore() {
		return false
	}
	more := g.more[e]
	for i := range more {
		if more[i].h != h {
			continue
		}
		if more[i].kinds&b == 0 {
			return false
		}
		if more[i].kinds &^= b; more[i].kinds == 0 {
			more = append(more[:i:i], more[i+1:]...)
		}
		g.setMoreLocked(e, more)
		return true
	}
	return false
}

// otherHolderLocked reports whether any holder still holds e's kind k.
func (g *Engine) otherHolderLocked(e *entry, k Kind) bool {
	b := bitOf(k)
	if e.firstKinds&b != 0 {
		return true
	}
	if e.hasMore() {
		for _, r := range g.more[e] {
			if r.kinds&b != 0 {
				return true
			}
		}
	}
	return false
}

func (g *Engine) setMoreLocked(e *entry, more []holderRef) {
	if len(more) == 0 {
		delete(g.more, e)
		e.flags &^= fHasMore
		return
	}
	g.more[e] = more
}

func (g *Engine) releaseLocked(spath string, e *entry, k Kind, h Holder) {
	if !g.removeHolderLocked(e, k, h) || g.otherHolderLocked(e, k) {
		return
	}
	e.set(fHeld, k, false)
	g.heldKinds--
	g.snapReleasedLocked(spath, e, k)
	e.rec = e.rec.Without(k)
	e.set(fResync, k, false)
	e.set(fResynced, k, false)
	g.stopRetriesLocked(e, k)
	if r := g.retryLocked(e); r != nil {
		r.delay[k] = 0
	}
	if e.is(fHeld, KindData) || e.is(fHeld, KindChildren) {
		return
	}
	g.freeLocked(e)
	if g.entries[spath] == e {
		delete(g.entries, spath)
		g.setReleasedArmedLocked(spath, e.armed) // the watches outlive the entry
		e.armed = 0
	}
}

// publishLocked makes rec the path's latest state and delivers it, as kind k's new state,
// to the kind's holders. rec may be the current record, to deliver it again flagged resync.
func (g *Engine) publishLocked(spath string, e *entry, k Kind, rec *Record, resync bool) {
	g.snapDirtyLocked()
	e.rec = rec
	e.set(fResynced, k, resync)
	b := bitOf(k)
	if e.first != nil && e.firstKinds&b != 0 {
		e.first.Deliver(spath, k, rec, resync)
	}
	if e.hasMore() {
		for _, r := range g.more[e] {
			if r.kinds&b != 0 {
				r.h.Deliver(spath, k, rec, resync)
			}
		}
	}
}

// OnNodeEvent runs on go-zookeeper's I/O goroutine: it only records the watches the event
// fired and marks paths dirty, and never waits for the engine's lock: when another goroutine
// holds it, the pump does that.
func (g *Engine) OnNodeEvent(ev zk.Event) {
	if kinds, fired := eventKinds(ev); kinds == ([2]bool{}) && fired == 0 {
		return
	}
	if !g.mu.TryLock() {
		g.events.Put(ev)
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
		kinds[KindData] = true
		fired = armedData
	case zk.EventNodeChildrenChanged:
		kinds[KindChildren] = true
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
func (g *Engine) markDirtyLocked(ev zk.Event) {
	kinds, fired := eventKinds(ev)
	if fired != 0 {
		g.firedLocked(ev.Path, fired)
	}
	if e := g.entries[ev.Path]; e != nil {
		for k, dirty := range kinds {
			if dirty && e.is(fHeld, Kind(k)) {
				g.enqueueLocked(ev.Path, e, Kind(k))
			}
		}
	}
}

// OnWatchesLost runs on go-zookeeper's goroutine when re-sending watches after a reconnect
// failed: every held path is read again.
func (g *Engine) OnWatchesLost() {
	g.watchesLost.Add(1)
	g.mu.Lock()
	g.rearmAll = true
	g.forgetWatchesLocked()
	g.mu.Unlock()
	g.kick.Poke()
}

// OnTransition runs on the session's goroutine, in order.
func (g *Engine) OnTransition(t session.Transition) {
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
		g.kick.Poke()
		return
	}
	g.ready, g.readySID = true, t.SessionID
	g.spawnLocked()
}

// driver runs resyncs: after a new session it waits a random part of the session timeout,
// calls Sync so the server it reads from has caught up with the leader, then re-reads every
// mirrored path with Resync set.
func (g *Engine) driver() {
	for {
		select {
		case <-g.grp.Stopping():
			return
		case <-g.kick.C():
		}
		g.mu.Lock()
		pending, rearm, connected, sid := g.resyncPending, g.rearmAll, g.connected, g.sid
		g.mu.Unlock()
		if !connected || (!pending && !rearm) {
			continue
		}
		if pending && g.cfg.Jitter > 0 {
			d := time.Duration(rand.Float64() * g.cfg.Jitter * float64(g.timeout()))
			t := time.NewTimer(d)
			select {
			case <-g.grp.Stopping():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if pending {
			if _, err := g.conn.Sync(g.syncPath()); err != nil {
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
		for p, e := range g.entries {
			for k := range Kind(2) {
				if e.is(fHeld, k) {
					if pending {
						e.set(fResync, k, true)
					}
					g.enqueueLocked(p, e, k)
					n++
				}
			}
		}
		if pending {
			g.historyBack = false
			for l := range g.listeners {
				l.ResyncStarted()
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

func (g *Engine) enqueueLocked(spath string, e *entry, k Kind) {
	if e.is(fReading, k) {
		e.set(fAgain, k, true)
		return
	}
	if e.is(fQueued, k) {
		return
	}
	e.set(fQueued, k, true)
	load := !e.rec.Has(k) || e.is(fResync, k)
	if load {
		g.loading++
	}
	g.queue.Push(qitem{spath, e, k, load})
	g.spawnLocked()
}

// workerLimitLocked is how many workers may run: the read concurrency while loads are
// queued, more while only re-reads after watch events are.
func (g *Engine) workerLimitLocked() int {
	if g.loading > 0 || g.maxWorkers > math.MaxInt/eventReadFactor {
		return g.maxWorkers
	}
	return g.maxWorkers * eventReadFactor
}

func (g *Engine) spawnLocked() {
	if g.closed || !g.ready {
		return
	}
	// A worker blocked in a read cannot take a queued path: count the idle ones.
	for g.workers < g.workerLimitLocked() && g.workers-g.busy < g.queue.Len() {
		g.workers++
		if !g.grp.Go(g.work) { // stopped: not reached while g.closed is false
			g.workers--
			return
		}
	}
}

func (g *Engine) popLocked() (qitem, bool) {
	it, ok := g.queue.Pop()
	if ok && it.load {
		g.loading--
	}
	return it, ok
}

// work reads queued paths until the queue is empty or reads must wait for a connection.
func (g *Engine) work() {
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
		path, e, k := it.path, it.e, it.k
		e.set(fQueued, k, false)
		if !e.is(fHeld, k) {
			g.mu.Unlock()
			continue
		}
		e.set(fReading, k, true)
		g.busy++
		g.readSeq++
		seq, sid := g.readSeq, g.readySID
		g.beginArmingLocked(path)
		g.mu.Unlock()

		g.reads.Add(1)
		var r readResult
		var armed watchBits
		if k == KindData {
			r, armed = g.readData(path)
		} else {
			r, armed = g.readChildren(path)
		}
		// A request queued while the session changed may have been answered by the new
		// session before its Sync: such an answer is not trusted.
		sameSession := g.conn.SessionID() == sid

		g.mu.Lock()
		g.busy--
		// The server may drop, unsent, the events of a client that lost read permission:
		// the watches of such a path are never relied upon, and armed again on each read.
		noAuth := errors.Is(r.err, zk.ErrNoAuth)
		g.endArmingLocked(path, armed, sameSession && !g.closed && !noAuth)
		if noAuth {
			g.firedLocked(path, armedData|armedChild)
		}
		e.set(fReading, k, false)
		switch {
		case g.closed:
		case !sameSession || (r.err != nil && isConnErr(r.err)):
			e.set(fAgain, k, false)
			g.enqueueLocked(path, e, k)
		default:
			// A definite failure other than absence: the snapshot carries it, as one of
			// our errors naming the path as users see it.
			r.err = g.cfg.ReadErr(path, r.err)
			if e.is(fHeld, k) {
				if !g.applyReadLocked(path, e, k, r, seq) {
					e.set(fAgain, k, true)
				}
				g.scheduleRetryLocked(path, e, k, noAuth)
			}
			if e.is(fAgain, k) {
				e.set(fAgain, k, false)
				g.enqueueLocked(path, e, k)
			}
		}
		g.mu.Unlock()
	}
}

// scheduleRetryLocked arms (or, once the path reads fine, disarms) the slow re-read of a
// path the mirror may not read.
func (g *Engine) scheduleRetryLocked(spath string, e *entry, k Kind, noAuth bool) {
	if !noAuth {
		if r := g.retryLocked(e); r != nil {
			g.stopRetriesLocked(e, k)
			r.delay[k] = 0
			if r.delay == [2]time.Duration{} {
				g.auxLocked(e).retry = nil
			}
		}
		return
	}
	if g.retryLocked(e) == nil {
		g.extLocked(e).retry = &noAuthRetry{}
	}
	r := g.retryLocked(e)
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
		if !g.closed && e.is(fHeld, k) {
			g.enqueueLocked(spath, e, k)
		}
	})
}

func (g *Engine) stopRetriesLocked(e *entry, k Kind) {
	if r := g.retryLocked(e); r != nil && r.timer[k] != nil {
		if r.timer[k].Stop() {
			g.timers.Done() // its func will not run
		}
		r.timer[k] = nil
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
func (g *Engine) readData(path string) (readResult, watchBits) {
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
			return readResult{exists: true, data: data, stat: StatFrom(st)}, armed
		case errors.Is(err, zk.ErrNoNode):
			// A data watch armed while the node existed has fired by now: its event
			// comes before this answer.
			ok, _, err := g.existsW(path, &armed)
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
			return readResult{exists: ok, stat: StatFrom(st), err: zk.ErrNoAuth}, armed
		default:
			return readResult{err: err}, armed
		}
	}
	return readResult{err: zk.ErrConnectionClosed}, armed // churned too fast; try again
}

// readChildren reads a path's children, arming its child watch unless the session holds it
// already (and its data watch while the node is missing), and returns the watches it armed.
func (g *Engine) readChildren(path string) (readResult, watchBits) {
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
			return readResult{exists: true, names: sortedNames(names), stat: StatFrom(st)}, armed
		case errors.Is(err, zk.ErrNoNode):
			// Arm an exists watch even when the data kind is held: its concurrent read may
			// have found the node created meanwhile and armed a data watch that fired
			// since. The session's data watch, if armed, serves as the exists watch.
			ok, _, err := g.existsW(path, &armed)
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
			return readResult{exists: ok, stat: StatFrom(st), err: zk.ErrNoAuth}, armed
		default:
			return readResult{err: err}, armed
		}
	}
	return readResult{err: zk.ErrConnectionClosed}, armed
}

// existsW asks whether a path exists, arming its data watch unless the session holds it
// already (recorded in armed).
func (g *Engine) existsW(path string, armed *watchBits) (bool, *zk.Stat, error) {
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
// The events queued for the pump count: a watch whose event arrived before the reply the
// caller acts on has fired, even if the pump has not applied it yet.
func (g *Engine) isArmed(path string, w watchBits) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.applyQueuedEventsLocked()
	return g.armedLocked(path)&w != 0
}

// applyQueuedEventsLocked applies the node events queued for the pump.
func (g *Engine) applyQueuedEventsLocked() {
	if g.events.Len() == 0 {
		return
	}
	for _, ev := range g.events.Take(nil) {
		g.markDirtyLocked(ev)
	}
}

// armedLocked returns the path's watches the session holds: in its entry while it has one,
// in g.armed once the entry is freed.
func (g *Engine) armedLocked(path string) watchBits {
	if e := g.entries[path]; e != nil {
		return e.armed
	}
	return g.armed[path]
}

// setArmedLocked records the path's watches where armedLocked finds them.
func (g *Engine) setArmedLocked(path string, b watchBits) {
	if e := g.entries[path]; e != nil {
		e.armed = b
		return
	}
	g.setReleasedArmedLocked(path, b)
}

// setReleasedArmedLocked records the watches of a path without an entry.
func (g *Engine) setReleasedArmedLocked(path string, b watchBits) {
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
func (g *Engine) beginArmingLocked(path string) {
	a := g.arming[path]
	if a == nil {
		a = &arming{}
		g.arming[path] = a
	}
	a.reads++
}

// endArmingLocked ends a read of the path that armed the watches w; they are remembered if
// record is set and none of the path's watches of their kind fired while it ran.
func (g *Engine) endArmingLocked(path string, w watchBits, record bool) {
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
func (g *Engine) firedLocked(path string, w watchBits) {
	if a := g.arming[path]; a != nil {
		a.fired |= w
	}
	if b := g.armedLocked(path); b&w != 0 {
		g.setArmedLocked(path, b&^w)
	}
}

// forgetWatchesLocked forgets every watch: the session ended, or the server did not take
// them back after a reconnect.
func (g *Engine) forgetWatchesLocked() {
	for _, a := range g.arming {
		a.fired = armedData | armedChild
	}
	g.armed = make(map[string]watchBits)
	g.armedPeak = 0
	for _, e := range g.entries {
		e.armed = 0
	}
}

// applyReadLocked applies a read result under the admit rules; it returns false when the
// result cannot be trusted and the path must be read again.
func (g *Engine) applyReadLocked(spath string, e *entry, k Kind, r readResult, seq uint64) bool {
	// The first read after a state restored from the snapshot file replaces it, flagged
	// Resync, whatever the zxids: the server always wins.
	resync := e.is(fResync, k) || e.rec.Restored(k)
	zxid := r.stat.Mzxid
	if k == KindChildren {
		zxid = r.stat.Pzxid
	}
	d := admit(g.known(e, k), found{
		exists: r.exists, czxid: r.stat.Czxid, zxid: zxid, errKey: g.cfg.ErrKey(r.err),
		resync: resync, fromRead: true, seq: seq,
	})
	g.setTombLocked(e, d.tomb)
	if d.verdict == readAgain {
		return false
	}
	if d.historyBack && !g.historyBack {
		g.historyBack = true
		curC, curZ := e.rec.Zxids(k)
		g.log.Warn("the server's history went back (cluster rebuilt, or restored from an older backup): the mirror goes on from the server's state",
			"path", g.cfg.UserPath(spath), "czxid", r.stat.Czxid, "zxid", zxid, "mirroredCzxid", curC, "mirroredZxid", curZ)
	}
	if resync {
		e.set(fResync, k, false)
	}
	if d.verdict == emitNew {
		g.publishLocked(spath, e, k, e.rec.With(k, r.exists, r.data, r.names, r.stat, r.err), resync)
	}
	return true
}

// known is what the engine knows of a path's kind, for admit.
func (g *Engine) known(e *entry, k Kind) mirrored {
	var m mirrored
	if a := g.auxLocked(e); a != nil {
		m.tomb, m.writeMark = a.tomb, a.writeMark
	}
	if cur := e.rec; cur.Has(k) {
		m.has, m.restored, m.exists = true, cur.Restored(k), cur.Exists(k)
		m.czxid, m.zxid = cur.Zxids(k)
		m.errKey = g.cfg.ErrKey(cur.Err(k))
	}
	return m
}

// mirrored is what the engine holds of a (path, kind) when a new state is found.
type mirrored struct {
	has      bool // the kind has a state (from a server, or restored from the snapshot file)
	restored bool // from the snapshot file: no contact with a server
	exists   bool
	czxid    int64 // Czxid, and Mzxid (data) or Pzxid (children)
	zxid     int64
	errKey   error // the state's error, reduced to what decides whether it changed
	// tomb is the Czxid of the newest incarnation seen deleted (0: none); writeMark the read
	// sequence number when a write through the mirror was last applied.
	tomb      int64
	writeMark uint64
}

// found is a new state of a (path, kind): what a read or a write found.
type found struct {
	exists      bool
	czxid, zxid int64
	errKey      error
	// resync: the read was made after Sync in a new session (or replaces a restored
	// state); fromRead: a read, not a write through the mirror, issued at read sequence
	// number seq.
	resync, fromRead bool
	seq              uint64
}

// verdict is what admit decides about a new state.
type verdict int

const (
	keepCurrent verdict = iota // nothing to emit
	emitNew                    // emit the new state
	readAgain                  // the state cannot be trusted: read the path again
)

// decision is admit's answer: the verdict, the tombstone from now on, and whether the new
// state shows that the server's history went back.
type decision struct {
	verdict     verdict
	tomb        int64
	historyBack bool
}

// admit decides what a new state means against the mirrored one. Outside a resync the
// monotonic rules hold: an older state, or an incarnation seen deleted, is ignored, and a
// deletion leaves a tombstone. A resync read (made after Sync in a new session) is
// authoritative: it replaces the mirrored state even when its zxids are lower, since then
// the server's history restarted (historyBack says so), and the tombstone of the old
// history goes with it. Either way, a read issued before a write through the mirror is
// not trusted where it may predate the write.
func admit(cur mirrored, in found) decision {
	d := decision{tomb: cur.tomb}
	if in.resync && in.fromRead {
		if in.seq <= cur.writeMark {
			d.verdict = readAgain
			return d
		}
		d.historyBack = historyWentBack(cur, in)
		if !in.exists || in.czxid <= cur.tomb {
			d.tomb = 0
		}
		d.verdict = emitNew
		return d
	}
	d.verdict = admitMonotonic(cur, in, &d.tomb)
	return d
}

// historyWentBack reports whether a state shows a path older than the mirror knew it: a
// state before the one mirrored, or an incarnation before one seen deleted. Within one
// server history a read after Sync never does.
func historyWentBack(cur mirrored, in found) bool {
	if !in.exists {
		return false
	}
	if cur.has && cur.exists && !cur.restored && ZxidAfter(cur.czxid, cur.zxid, in.czxid, in.zxid) { // the file is no history
		return true
	}
	return cur.tomb != 0 && in.czxid < cur.tomb
}

// admitMonotonic is admit outside an authoritative read; a deletion raises *tomb.
func admitMonotonic(cur mirrored, in found, tomb *int64) verdict {
	has := cur.has && !cur.restored // a restored state is no contact
	beforeWrite := in.fromRead && in.seq <= cur.writeMark
	if in.exists && cur.tomb != 0 && in.czxid <= cur.tomb {
		if !has {
			return readAgain // first contact with a stale answer: read again
		}
		return keepCurrent
	}
	if !has {
		if !in.exists && beforeWrite {
			return readAgain
		}
		return emitNew
	}
	switch {
	case in.exists && cur.exists:
		if ZxidAfter(in.czxid, in.zxid, cur.czxid, cur.zxid) {
			return emitNew
		}
		if in.czxid == cur.czxid && in.zxid == cur.zxid && (in.resync || in.errKey != cur.errKey) {
			return emitNew
		}
		return keepCurrent
	case in.exists && !cur.exists:
		if beforeWrite {
			return readAgain // issued before a write that found the node absent
		}
		return emitNew
	case !in.exists && cur.exists:
		if beforeWrite {
			return readAgain
		}
		*tomb = max(*tomb, cur.czxid)
		return emitNew
	default: // absent and absent
		if in.resync || in.errKey != cur.errKey {
			return emitNew
		}
		return keepCurrent
	}
}

// applyWrite applies the state a write through the mirror produced (read your writes):
// a Set's returned Stat with its data, or a read-back after Create or Delete. A held path
// whose first read is still in flight takes the write as its first contact: that read,
// issued before the write, cannot then replace it with an older state.
func (g *Engine) applyWrite(spath string, k Kind, exists bool, data []byte, names []string, st Stat) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.entries[spath]
	if e == nil || !e.is(fHeld, k) {
		return
	}
	zxid := st.Mzxid
	if k == KindChildren {
		zxid = st.Pzxid
	}
	d := admit(g.known(e, k), found{exists: exists, czxid: st.Czxid, zxid: zxid, errKey: g.cfg.ErrKey(nil)})
	g.setTombLocked(e, d.tomb)
	if d.verdict == emitNew {
		g.publishLocked(spath, e, k, e.rec.With(k, exists, data, names, st, nil), e.rec.Restored(k))
	}
	g.extLocked(e).writeMark = g.readSeq
}

// Stats returns the engine's counters.
func (g *Engine) Stats() Stats {
	g.mu.Lock()
	paths, kinds := len(g.entries), g.heldKinds
	g.mu.Unlock()
	return Stats{Paths: paths, Kinds: kinds, Reads: g.reads.Load(), Resyncs: g.resyncs.Load(), WatchesLost: g.watchesLost.Load()}
}

// held reports whether the kind of a server path is mirrored.
func (g *Engine) held(spath string, k Kind) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.entries[spath]
	return e != nil && e.is(fHeld, k)
}

// Stop tells the workers, the driver and the pump to end: no read starts after it.
// Idempotent.
func (g *Engine) Stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return
	}
	g.closed = true
	g.grp.Stop()
	for _, e := range g.entries {
		g.stopRetriesLocked(e, KindData)
		g.stopRetriesLocked(e, KindChildren)
	}
}

// Close stops the engine and waits for its goroutines; the connection must be closed
// first, so that no read blocks. Holders are not told: their owner ends them.
func (g *Engine) Close() {
	g.Stop()
	g.grp.Wait()
	g.timers.Wait()
	if g.snapw != nil {
		g.snapw.grp.StopAndWait() // the last write, of the final state
	}
}

// syncPath is the path a resync syncs.
func (g *Engine) syncPath() string {
	if g.cfg.Chroot == "" {
		return "/"
	}
	return g.cfg.Chroot
}

// HoldLock takes the engine's lock until the returned func is called: for tests of the
// layers above, which check what must not wait for it.
func (g *Engine) HoldLock() (release func()) {
	g.mu.Lock()
	return g.mu.Unlock
}
