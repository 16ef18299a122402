package zkmirror

// record is a path's latest mirrored state: the snapshot of each held kind that has had
// first contact. It is immutable once stored in an entry — every change makes a new one —
// so Trees and their views share records without copying. Both kinds live in one compact
// record because a Tree holds both for most of its nodes: the children kind's Stat is kept
// apart only while it differs from the data kind's, and errors only while a read fails.
type record struct {
	data  []byte   // data kind; nil unless it exists
	names []string // children kind, sorted; nil unless it exists
	aux   *recordAux

	// The Stat of the data kind when it has had contact, else of the children kind. Kept
	// field by field so that the flags fit in the Stat's padding.
	czxid, mzxid, pzxid, ctime, mtime, ephemeralOwner    int64
	version, cversion, aversion, dataLength, numChildren int32

	flags recFlags
}

// recordAux holds what most records do not need.
type recordAux struct {
	kstat      Stat // the children kind's Stat, when hasKstat
	hasKstat   bool
	dErr, kErr error // the last read of the kind failed (ErrNoAuth …)
}

type recFlags uint8

const (
	recHasData    recFlags = 1 << iota // the data kind has had contact
	recDataExists                      // and the node existed
	recHasKids                         // the children kind has had contact
	recKidsExists                      // and the node existed
)

// The restored marks: the kind's state was loaded from the snapshot file (WithSnapshotFile).
const (
	recDataRestored recFlags = recKidsExists << (iota + 1)
	recKidsRestored
)

// restoredFlag is the flag marking kind k's state as loaded from the snapshot file.
func restoredFlag(k kind) recFlags {
	if k == kindData {
		return recDataRestored
	}
	return recKidsRestored
}

// restored reports whether kind k's state was loaded from the snapshot file and no server
// has confirmed it yet.
func (r *record) restored(k kind) bool {
	return r.has(k) && r.flags&restoredFlag(k) != 0
}

// withKindOf returns r with kind k's state, restored mark included, taken from src, which
// must have it.
func (r *record) withKindOf(k kind, src *record) *record {
	var data []byte
	var names []string
	if k == kindData {
		data = src.data
	} else {
		names = src.names
	}
	n := r.with(k, src.exists(k), data, names, src.stat(k), src.err(k))
	n.flags |= src.flags & restoredFlag(k)
	return n
}

func (r *record) has(k kind) bool {
	if r == nil {
		return false
	}
	if k == kindData {
		return r.flags&recHasData != 0
	}
	return r.flags&recHasKids != 0
}

func (r *record) exists(k kind) bool {
	if k == kindData {
		return r.flags&recDataExists != 0
	}
	return r.flags&recKidsExists != 0
}

func (r *record) mainStat() Stat {
	return Stat{
		Czxid: r.czxid, Mzxid: r.mzxid, Pzxid: r.pzxid, Ctime: r.ctime, Mtime: r.mtime,
		EphemeralOwner: r.ephemeralOwner, Version: r.version, Cversion: r.cversion,
		Aversion: r.aversion, DataLength: r.dataLength, NumChildren: r.numChildren,
	}
}

func (r *record) setMainStat(s Stat) {
	r.czxid, r.mzxid, r.pzxid, r.ctime, r.mtime, r.ephemeralOwner = s.Czxid, s.Mzxid, s.Pzxid, s.Ctime, s.Mtime, s.EphemeralOwner
	r.version, r.cversion, r.aversion, r.dataLength, r.numChildren = s.Version, s.Cversion, s.Aversion, s.DataLength, s.NumChildren
}

// stat returns the Stat of a kind that has had contact.
func (r *record) stat(k kind) Stat {
	if k == kindChildren && r.aux != nil && r.aux.hasKstat {
		return r.aux.kstat
	}
	return r.mainStat()
}

// err returns the error of a kind's last read.
func (r *record) err(k kind) error {
	if r.aux == nil {
		return nil
	}
	if k == kindData {
		return r.aux.dErr
	}
	return r.aux.kErr
}

// zxids returns what orders a kind's states: Czxid, then Mzxid (data) or Pzxid (children).
func (r *record) zxids(k kind) (czxid, zxid int64) {
	s := r.stat(k)
	if k == kindData {
		return s.Czxid, s.Mzxid
	}
	return s.Czxid, s.Pzxid
}

// value is the data kind's snapshot; the record must have it.
func (r *record) value(path string) Value {
	return Value{Path: path, Data: r.data, Stat: r.stat(kindData), Exists: r.exists(kindData), Restored: r.restored(kindData), Err: r.err(kindData)}
}

// children is the children kind's snapshot; the record must have it.
func (r *record) children(path string) Children {
	names := r.names
	if names == nil && r.exists(kindChildren) {
		names = []string{}
	}
	return Children{Path: path, Names: names, Stat: r.stat(kindChildren), Exists: r.exists(kindChildren), Restored: r.restored(kindChildren), Err: r.err(kindChildren)}
}

// with returns a record holding a new state of kind k and the old state of the other kind.
// data is used for the data kind, names for the children kind.
func (r *record) with(k kind, exists bool, data []byte, names []string, st Stat, err error) *record {
	var dHas, kHas, dEx, kEx bool
	var dData []byte
	var kNames []string
	var dStat, kStat Stat
	var dErr, kErr error
	if r.has(kindData) {
		dHas, dEx, dData, dStat, dErr = true, r.exists(kindData), r.data, r.stat(kindData), r.err(kindData)
	}
	if r.has(kindChildren) {
		kHas, kEx, kNames, kStat, kErr = true, r.exists(kindChildren), r.names, r.stat(kindChildren), r.err(kindChildren)
	}
	if !exists {
		data, names, st = nil, nil, Stat{}
	}
	if k == kindData {
		dHas, dEx, dData, dStat, dErr = true, exists, data, st, err
	} else {
		if len(names) == 0 {
			names = nil
		}
		kHas, kEx, kNames, kStat, kErr = true, exists, names, st, err
	}
	n := makeRecord(dHas, dEx, dData, dStat, dErr, kHas, kEx, kNames, kStat, kErr)
	if r != nil { // the other kind keeps its restored mark
		if k == kindData {
			n.flags |= r.flags & restoredFlag(kindChildren)
		} else {
			n.flags |= r.flags & restoredFlag(kindData)
		}
	}
	return n
}

// without returns the record with kind k forgotten, nil when no kind is left.
func (r *record) without(k kind) *record {
	if !r.has(k) {
		return r
	}
	other := kindChildren
	if k == kindChildren {
		other = kindData
	}
	if !r.has(other) {
		return nil
	}
	n := &record{}
	if other == kindData {
		*n = record{data: r.data, flags: r.flags & (recHasData | recDataExists | recDataRestored)}
		n.setMainStat(r.stat(kindData))
		if e := r.err(kindData); e != nil {
			n.aux = &recordAux{dErr: e}
		}
	} else {
		*n = record{names: r.names, flags: r.flags & (recHasKids | recKidsExists | recKidsRestored)}
		n.setMainStat(r.stat(kindChildren))
		if e := r.err(kindChildren); e != nil {
			n.aux = &recordAux{kErr: e}
		}
	}
	return n
}

func makeRecord(dHas, dEx bool, data []byte, dStat Stat, dErr error, kHas, kEx bool, names []string, kStat Stat, kErr error) *record {
	n := &record{data: data, names: names}
	var aux recordAux
	switch {
	case dHas:
		n.setMainStat(dStat)
		n.flags |= recHasData
		if dEx {
			n.flags |= recDataExists
		}
		if kHas && kStat != dStat {
			aux.kstat, aux.hasKstat = kStat, true
		}
	case kHas:
		n.setMainStat(kStat)
	}
	if kHas {
		n.flags |= recHasKids
		if kEx {
			n.flags |= recKidsExists
		}
	}
	if aux.hasKstat || dErr != nil || kErr != nil {
		aux.dErr, aux.kErr = dErr, kErr
		n.aux = &aux
	}
	return n
}
