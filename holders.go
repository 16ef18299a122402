package zkmirror

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/zkmirror/zkmirror/internal/engine"
)

// kind is what of a path is mirrored: its data or its children.
type kind = engine.Kind

const (
	kindData     = engine.KindData
	kindChildren = engine.KindChildren
)

// valueOf is a record's data snapshot; the record must have the data kind.
func valueOf(r *engine.Record, path string) Value {
	return Value{Path: path, Data: r.Data(), Stat: Stat(r.Stat(kindData)), Exists: r.Exists(kindData), Restored: r.Restored(kindData), Err: r.Err(kindData)}
}

// childrenOf is a record's children snapshot; the record must have the children kind.
func childrenOf(r *engine.Record, path string) Children {
	names := r.Names()
	if names == nil && r.Exists(kindChildren) {
		names = []string{}
	}
	return Children{Path: path, Names: names, Stat: Stat(r.Stat(kindChildren)), Exists: r.Exists(kindChildren), Restored: r.Restored(kindChildren), Err: r.Err(kindChildren)}
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

// pathStreams is the engine's holder for the Node handles of one path: the two streams
// every handle on the path shares, each existing while a handle uses its kind.
//
// Lifecycle: made by the first handle that uses a kind of the path, dropped from
// Mirror.streams when no handle uses either. A stream is made before its kind is acquired
// and closed after it is released, so Deliver, which the engine calls only for a held kind
// and with its lock held, always finds it.
type pathStreams struct {
	upath string // as users see it
	// Guarded by nodeStreams.mu; data and kids are also read by Deliver under the engine's lock,
	// ordered after their writes by the Acquire and before them by the Release.
	refs [2]int // handles using each kind
	data *Stream[Value]
	kids *Stream[Children]
}

// Deliver publishes a new record of a kind to its stream (the engine's lock is held).
func (p *pathStreams) Deliver(_ string, k kind, rec *engine.Record, resync bool) {
	if k == kindData {
		v := valueOf(rec, p.upath)
		v.Resync = resync
		p.data.publish(v)
		return
	}
	c := childrenOf(rec, p.upath)
	c.Resync = resync
	p.kids.publish(c)
}

// nodeStreams hands out a path's shared streams to its Node handles and holds the path in
// the engine while any handle uses it.
type nodeStreams struct {
	eng       *engine.Engine
	conflated *atomic.Int64 // the Mirror's count of snapshots replaced unread

	mu    sync.Mutex              // guards paths; taken before the engine's lock
	paths map[string]*pathStreams // by server path; guarded by mu
}

// dataStream returns the path's data stream for one more handle.
func (ns *nodeStreams) dataStream(spath, upath string) (*Stream[Value], error) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	p, err := ns.holdLocked(spath, upath, kindData)
	if err != nil {
		return nil, err
	}
	return p.data, nil
}

// kidsStream returns the path's children stream for one more handle.
func (ns *nodeStreams) kidsStream(spath, upath string) (*Stream[Children], error) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	p, err := ns.holdLocked(spath, upath, kindChildren)
	if err != nil {
		return nil, err
	}
	return p.kids, nil
}

// holdLocked counts one more handle using the path's kind k; the first one makes the
// kind's stream and acquires the kind, the stream starting from the current record.
func (ns *nodeStreams) holdLocked(spath, upath string, k kind) (*pathStreams, error) {
	p := ns.pathLocked(spath, upath)
	if p.refs[k] == 0 {
		if k == kindData {
			p.data = newStream(Value.conflate)
			p.data.conflated = ns.conflated
		} else {
			p.kids = newStream(Children.conflate)
			p.kids.conflated = ns.conflated
		}
		err := ns.eng.Acquire(spath, k, p, func(rec *engine.Record, resynced bool) {
			if rec != nil {
				p.Deliver(spath, k, rec, resynced)
			}
		})
		if err != nil {
			if k == kindData {
				p.data = nil
			} else {
				p.kids = nil
			}
			ns.dropLocked(spath, p)
			return nil, err
		}
	}
	p.refs[k]++
	return p, nil
}

func (ns *nodeStreams) pathLocked(spath, upath string) *pathStreams {
	p := ns.paths[spath]
	if p == nil {
		p = &pathStreams{upath: upath}
		ns.paths[spath] = p
	}
	return p
}

func (ns *nodeStreams) dropLocked(spath string, p *pathStreams) {
	if p.refs == [2]int{} && ns.paths[spath] == p {
		delete(ns.paths, spath)
	}
}

// release drops one handle's use of a kind; the last one releases the kind in the engine
// and closes its stream.
func (ns *nodeStreams) release(spath string, k kind) {
	ns.mu.Lock()
	p := ns.paths[spath]
	if p == nil || p.refs[k] == 0 {
		ns.mu.Unlock()
		return
	}
	if p.refs[k]--; p.refs[k] > 0 {
		ns.mu.Unlock()
		return
	}
	ns.eng.Release(spath, k, p) // no delivery reaches the stream from now on
	var closeStream func()
	if k == kindData {
		closeStream = p.data.close
		p.data = nil
	} else {
		closeStream = p.kids.close
		p.kids = nil
	}
	ns.dropLocked(spath, p)
	ns.mu.Unlock()
	// Closed without the lock: a subscription's end runs its handle's code, which may hold
	// its own lock while it asks for a stream.
	closeStream()
}

// closeAll closes every stream; the engine has stopped delivering.
func (ns *nodeStreams) closeAll() {
	ns.mu.Lock()
	paths := ns.paths
	ns.paths = map[string]*pathStreams{}
	ns.mu.Unlock()
	for _, p := range paths {
		if p.data != nil {
			p.data.close()
		}
		if p.kids != nil {
			p.kids.close()
		}
	}
}
