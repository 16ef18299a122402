package zkmirror

// Stat is a node's metadata, with go-zookeeper's field names and types. Ctime and Mtime are
// milliseconds since the epoch.
type Stat struct {
	Czxid          int64
	Mzxid          int64
	Pzxid          int64
	Ctime          int64
	Mtime          int64
	EphemeralOwner int64
	Version        int32
	Cversion       int32
	Aversion       int32
	DataLength     int32
	NumChildren    int32
}

// Value is one snapshot of a node's data.
//
// Exists is false when ZooKeeper says the node is absent; Data and Stat are then zero.
// Resync is set on the snapshots emitted after a session expiry, changed or not, and on
// a conflated snapshot any of whose skipped predecessors had it. Err is set when the last
// read of the path failed for a reason other than absence (ErrNoAuth, for instance); the
// stream goes on and recovers when the cause does. A snapshot whose only change is Err
// carries the same zxids as the one before it. Restored is set while the snapshot is the
// state loaded from the snapshot file (WithSnapshotFile) and no server has confirmed it
// yet; the first read from a server replaces it with Restored=false and Resync=true,
// changed or not, whatever its zxids. Data is shared by every receiver of the snapshot and
// must not be modified.
type Value struct {
	Path     string
	Data     []byte
	Stat     Stat
	Exists   bool
	Resync   bool
	Restored bool
	Err      error
}

// Children is one snapshot of a node's child names, sorted. The same rules as for Value hold.
// Names is shared by every receiver of the snapshot and must not be modified.
type Children struct {
	Path     string
	Names    []string
	Stat     Stat
	Exists   bool
	Resync   bool
	Restored bool
	Err      error
}

// conflate is how a snapshot replaces an unread one in a mailbox: the newer wins and the
// Resync flag is kept, so a slow reader still learns that a resync happened.
func (v Value) conflate(older Value) Value {
	v.Resync = v.Resync || older.Resync
	return v
}

func (c Children) conflate(older Children) Children {
	c.Resync = c.Resync || older.Resync
	return c
}
