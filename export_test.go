package zkmirror

import "github.com/go-zookeeper/zk"

// TreeRecordKinds reports which kinds the Tree's record of a path carries.
func TreeRecordKinds(t *Tree, path string) (data, kids bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.nodes[t.chroot.toServer(path)]
	return n.rec.Has(kindData), n.rec.Has(kindChildren)
}

// CreateRequestSize is the size the Mirror computes for the Create request of spath.
func CreateRequestSize(spath string, data int, acl []zk.ACL, opts ...CreateOption) int {
	var cc createConfig
	for _, o := range opts {
		o(&cc)
	}
	if len(acl) == 0 {
		acl = zk.WorldACL(zk.PermAll)
	}
	return createRequestSize(spath, data, acl, cc)
}

// SetRequestSize and AuthRequestSize are the sizes the Mirror computes for those requests.
var (
	SetRequestSize  = setRequestSize
	AuthRequestSize = authRequestSize
)

// HoldEngineLock takes the lock of m's engine until the returned func is called.
func HoldEngineLock(m *Mirror) (release func()) {
	return m.eng.HoldLock()
}

// ReadConn returns the go-zookeeper connection m reads with.
func ReadConn(m *Mirror) *zk.Conn { return m.sess.Conn() }
