package zkmirror

import (
	"slices"
	"strings"
)

// SnapshotNode is one node for WriteSnapshot: it exists, with its data and children.
type SnapshotNode struct {
	Path  string // on the server
	Data  []byte
	Names []string // sorted
	Stat  Stat
}

// WriteSnapshot writes a snapshot file as a Mirror with the given chroot would.
func WriteSnapshot(file, chroot string, nodes []SnapshotNode) error {
	items := make([]snapItem, 0, len(nodes))
	for _, n := range nodes {
		var r *record
		r = r.with(kindData, true, n.Data, nil, n.Stat, nil).with(kindChildren, true, nil, n.Names, n.Stat, nil)
		items = append(items, snapItem{n.Path, r})
	}
	slices.SortFunc(items, func(a, b snapItem) int { return strings.Compare(a.path, b.path) })
	return writeSnapshotFile(file, encodeSnapshot(nil, chroot, items))
}

// SnapshotWrites returns the number of snapshot files the Mirror has written.
func SnapshotWrites(m *Mirror) int64 { return m.snapw.writes.Load() }
