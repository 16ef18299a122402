package zkmirror

import "time"

// Stats is a point-in-time summary of a Mirror, cheap to take (it walks no snapshot).
type Stats struct {
	// Paths is the number of paths mirrored (held by a handle, subscription, watcher or Tree).
	Paths int
	// Watches is the number of (path, kind) pairs mirrored; each keeps one ZooKeeper watch
	// (data or child, or exists while the node is missing) armed.
	Watches int
	// Reads is the number of reads issued to re-arm watches (first contact, changes, resyncs).
	Reads int64
	// Resyncs counts resyncs after session expiry.
	Resyncs int64
	// WatchesLost counts reconnects after which go-zookeeper failed to restore watches and
	// the mirror re-read every path instead.
	WatchesLost int64
	// Conflated counts snapshots replaced unread in a subscriber's mailbox.
	Conflated int64
	// State is the connection state, entered at StateSince.
	State      State
	StateSince time.Time
}

// Stats returns the Mirror's counters.
func (m *Mirror) Stats() Stats {
	es := m.eng.Stats()
	m.mu.Lock()
	st, since := m.state, m.stateSince
	m.mu.Unlock()
	return Stats{
		Paths:       es.Paths,
		Watches:     es.Kinds,
		Reads:       es.Reads,
		Resyncs:     es.Resyncs,
		WatchesLost: es.WatchesLost,
		Conflated:   m.conflated.Load(),
		State:       st,
		StateSince:  since,
	}
}
