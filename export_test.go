package zkmirror

// TreeRecordKinds reports which kinds the Tree's record of a path carries.
func TreeRecordKinds(t *Tree, path string) (data, kids bool) {
	t.g.mu.Lock()
	defer t.g.mu.Unlock()
	n := t.nodes[t.m.root.toServer(path)]
	return n.rec.has(kindData), n.rec.has(kindChildren)
}
