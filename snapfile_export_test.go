package zkmirror

import "github.com/zkmirror/zkmirror/internal/engine"

// SnapshotNode is one node for WriteSnapshot: it exists, with its data and children.
type SnapshotNode struct {
	Path  string // on the server
	Data  []byte
	Names []string // sorted
	Stat  Stat
}

// WriteSnapshot writes a snapshot file as a Mirror with the given chroot would.
func WriteSnapshot(file, chroot string, nodes []SnapshotNode) error {
	recs := make(map[string]*engine.Record, len(nodes))
	for _, n := range nodes {
		st := engine.Stat(n.Stat)
		recs[n.Path] = engine.NewRecord(kindData, true, n.Data, nil, st, nil).With(kindChildren, true, nil, n.Names, st, nil)
	}
	return engine.WriteSnapshot(file, chroot, recs)
}

// SnapshotWrites returns the number of snapshot files the Mirror has written.
func SnapshotWrites(m *Mirror) int64 { return m.eng.SnapshotWrites() }
