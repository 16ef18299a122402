package zkmirror

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror/internal/engine"
	"github.com/zkmirror/zkmirror/internal/inbox"
	"github.com/zkmirror/zkmirror/internal/run"
	"github.com/zkmirror/zkmirror/session"
)

// keeper re-creates Keep nodes: in every new session, and whenever another client deletes
// one, until it is deleted through the Mirror or the Mirror closes. It holds the data kind
// of each kept path in the engine; a new record of one, or a new session, wakes its one
// goroutine.
//
// Lock order: the engine's lock, then mu (Deliver takes mu); the keeper never calls the
// engine with mu held.
type keeper struct {
	eng  *engine.Engine
	log  *slog.Logger
	wait engine.WaitFunc // until a session is established
	kick inbox.Signal
	grp  run.Group // the loop

	mu        sync.Mutex       // guards the fields below and every kept
	nodes     map[string]*kept // by server path
	closed    bool
	connected bool
	sid       int64
}

type kept struct {
	spath, upath string
	data         []byte
	acl          []zk.ACL
	paused       bool
	// The latest record of the node's data: has is false before first contact.
	has, exists bool
}

func newKeeper(eng *engine.Engine, log *slog.Logger, wait engine.WaitFunc) *keeper {
	return &keeper{eng: eng, log: log, wait: wait, kick: inbox.NewSignal(), grp: run.NewGroup(), nodes: make(map[string]*kept)}
}

func (k *keeper) start() { k.grp.Go(k.loop) }

func (k *keeper) poke() { k.kick.Poke() }

// Deliver takes a new record of a kept path's data (the engine's lock is held).
func (k *keeper) Deliver(spath string, _ kind, rec *engine.Record, _ bool) {
	k.mu.Lock()
	if kn := k.nodes[spath]; kn != nil {
		kn.has, kn.exists = true, rec.Exists(kindData)
	}
	k.mu.Unlock()
	k.poke()
}

func (k *keeper) onTransition(t session.Transition) {
	k.mu.Lock()
	k.connected = t.State == session.StateConnected
	k.sid = t.SessionID
	k.mu.Unlock()
	if t.State == session.StateConnected {
		k.poke()
	}
}

// add starts keeping a node just created through the mirror (again, with new data and
// ACL, if it was kept already).
func (k *keeper) add(upath, spath string, data []byte, acl []zk.ACL) {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return
	}
	kn := &kept{spath: spath, upath: upath, data: data, acl: acl}
	if old := k.nodes[spath]; old != nil {
		kn.has, kn.exists = old.has, old.exists
	}
	k.nodes[spath] = kn
	k.mu.Unlock()
	err := k.eng.Acquire(spath, kindData, k, func(rec *engine.Record, _ bool) {
		k.mu.Lock()
		if rec != nil && k.nodes[spath] == kn {
			kn.has, kn.exists = true, rec.Exists(kindData)
		}
		k.mu.Unlock()
	})
	if err != nil {
		k.forget(spath, kn)
		return
	}
	// Closed, forgotten or replaced while the hold was being taken: the engine holds the
	// path once for the keeper, so let go unless kn is still what is kept there.
	k.mu.Lock()
	kept := !k.closed && k.nodes[spath] != nil
	k.mu.Unlock()
	if !kept {
		k.eng.Release(spath, kindData, k)
	}
}

// forget stops keeping kn.
func (k *keeper) forget(spath string, kn *kept) {
	k.mu.Lock()
	mine := k.nodes[spath] == kn
	if mine {
		delete(k.nodes, spath)
	}
	k.mu.Unlock()
	if mine {
		k.eng.Release(spath, kindData, k)
	}
}

// updated records data set through the mirror, for later re-creations.
func (k *keeper) updated(spath string, data []byte) {
	k.mu.Lock()
	if kn := k.nodes[spath]; kn != nil {
		kn.data = data
	}
	k.mu.Unlock()
}

// aclOf returns the ACL of a kept node; false if spath is not kept.
func (k *keeper) aclOf(spath string) ([]zk.ACL, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if kn := k.nodes[spath]; kn != nil {
		return kn.acl, true
	}
	return nil, false
}

// pause stops re-creating spath while a delete through the mirror is in flight; the
// returned func ends the pause, forgetting the node if the delete succeeded.
func (k *keeper) pause(spath string) func(deleted bool) {
	k.mu.Lock()
	kn := k.nodes[spath]
	if kn != nil {
		kn.paused = true
	}
	k.mu.Unlock()
	return func(deleted bool) {
		if kn == nil {
			return
		}
		if deleted {
			k.forget(spath, kn)
			return
		}
		k.mu.Lock()
		kn.paused = false
		k.mu.Unlock()
		k.poke()
	}
}

// recheckSoon wakes the keeper again after a short pause, so a node deleted as fast as it
// is re-created is retried without spinning.
func (k *keeper) recheckSoon() {
	t := time.NewTimer(50 * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		k.poke()
	case <-k.grp.Stopping():
	}
}

func (k *keeper) loop() {
	for {
		select {
		case <-k.grp.Stopping():
			return
		case <-k.kick.C():
		}
		k.check()
	}
}

// check re-creates every kept node that is absent. A node held by another session is left
// alone; its deletion wakes the keeper again.
func (k *keeper) check() {
	k.mu.Lock()
	if !k.connected {
		k.mu.Unlock()
		return
	}
	sid := k.sid
	var todo []*kept
	for _, kn := range k.nodes {
		if kn.paused {
			continue
		}
		if !kn.has || kn.exists {
			continue
		}
		todo = append(todo, kn)
	}
	k.mu.Unlock()
	for _, kn := range todo {
		select {
		case <-k.grp.Stopping():
			return
		default:
		}
		k.mu.Lock()
		data, paused := kn.data, kn.paused
		k.mu.Unlock()
		if paused {
			continue
		}
		// The read-back ends when the Mirror closes; its error does not matter here.
		created, err := k.eng.Create(context.Background(), kn.spath, data, kn.acl, engine.CreateSpec{Flags: zk.FlagEphemeral}, k.wait)
		switch {
		case created != "":
			k.log.Info("re-created kept node", "path", kn.upath, "session", sid)
			// Deleted again before the mirror saw it exist: absent then absent is no change,
			// so no record would wake the keeper. Look again.
			k.mu.Lock()
			gone := kn.has && !kn.exists
			k.mu.Unlock()
			if gone {
				k.recheckSoon()
			}
		case errors.Is(err, zk.ErrNodeExists):
			// Another session holds it, or our snapshot is behind; the watch tells.
		default:
			k.log.Warn("re-creating kept node failed", "path", kn.upath, "err", err)
		}
	}
}

// close stops the keeper and releases what it holds; kept ephemeral nodes end with the
// session. Idempotent.
func (k *keeper) close() {
	k.grp.StopAndWait()
	k.mu.Lock()
	k.closed = true
	nodes := k.nodes
	k.nodes = map[string]*kept{}
	k.mu.Unlock()
	for spath := range nodes {
		k.eng.Release(spath, kindData, k)
	}
}
