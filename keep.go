package zkmirror

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror/session"
)

// keeper re-creates Keep nodes: in every new session, and whenever another client deletes
// one, until it is deleted through the Mirror or the Mirror closes. Each kept path is
// mirrored like any other; a change of its snapshot, or a new session, wakes the keeper's
// one goroutine.
type keeper struct {
	m    *Mirror
	kick chan struct{}
	quit chan struct{}
	done chan struct{}
	once sync.Once

	mu        sync.Mutex
	started   bool
	nodes     map[string]*kept // by server path
	connected bool
	sid       int64
}

type kept struct {
	spath  string
	data   []byte
	acl    []zk.ACL
	node   *Node
	paused bool
}

func newKeeper(m *Mirror) *keeper {
	return &keeper{m: m, kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}), nodes: make(map[string]*kept)}
}

func (k *keeper) start() {
	k.mu.Lock()
	k.started = true
	k.mu.Unlock()
	go k.loop()
}

func (k *keeper) poke() {
	select {
	case k.kick <- struct{}{}:
	default:
	}
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

// add starts keeping a node just created through the mirror.
func (k *keeper) add(upath, spath string, data []byte, acl []zk.ACL) {
	n, err := k.m.Node(upath)
	if err != nil {
		return
	}
	s, err := n.dataStream("keep")
	if err != nil {
		return
	}
	k.mu.Lock()
	old := k.nodes[spath]
	k.nodes[spath] = &kept{spath: spath, data: data, acl: acl, node: n}
	k.mu.Unlock()
	if old != nil {
		old.node.Close()
	}
	mb := newMailbox[Value](k.poke, nil)
	s.subscribe(context.Background(), mb) // ends with the handle
	n.mu.Lock()
	if n.subs != nil {
		n.nextID++
		n.subs[n.nextID] = func() { s.unsubscribe(mb) }
	}
	n.mu.Unlock()
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
		k.mu.Lock()
		if deleted {
			if k.nodes[spath] == kn {
				delete(k.nodes, spath)
			}
		} else {
			kn.paused = false
		}
		k.mu.Unlock()
		if deleted {
			kn.node.Close()
		} else {
			k.poke()
		}
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
	case <-k.quit:
	}
}

func (k *keeper) loop() {
	defer close(k.done)
	for {
		select {
		case <-k.quit:
			return
		case <-k.kick:
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
		v, ok := kn.node.data.Latest()
		if !ok || v.Exists {
			continue
		}
		todo = append(todo, kn)
	}
	k.mu.Unlock()
	for _, kn := range todo {
		select {
		case <-k.quit:
			return
		default:
		}
		k.mu.Lock()
		data, paused := kn.data, kn.paused
		k.mu.Unlock()
		if paused {
			continue
		}
		_, err := k.m.eng.create(kn.spath, data, kn.acl, createConfig{ephemeral: true})
		switch {
		case err == nil:
			k.m.log.Info("re-created kept node", "path", kn.node.path, "session", sid)
			_ = k.m.eng.readBack(context.Background(), kn.spath, true, k.m.waitConnected) // ends when the Mirror closes
			// Deleted again before the mirror saw it exist: absent then absent is no change,
			// so no snapshot would wake the keeper. Look again.
			if v, ok := kn.node.data.Latest(); ok && !v.Exists {
				k.recheckSoon()
			}
		case errors.Is(err, zk.ErrNodeExists):
			// Another session holds it, or our snapshot is behind; the watch tells.
		default:
			k.m.log.Warn("re-creating kept node failed", "path", kn.node.path, "err", err)
		}
	}
}

// close stops the keeper and releases its handles; kept ephemeral nodes end with the
// session.
func (k *keeper) close() {
	k.once.Do(func() {
		close(k.quit)
		k.mu.Lock()
		started := k.started
		nodes := k.nodes
		k.nodes = map[string]*kept{}
		k.mu.Unlock()
		if started {
			<-k.done
		}
		for _, kn := range nodes {
			kn.node.Close()
		}
	})
}
