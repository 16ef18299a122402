package engine

// Record is a path's latest mirrored state: the snapshot of each held kind that has had
// first contact. It is immutable once stored in an entry — every change makes a new one —
// so Trees and their views share records without copying. Both kinds live in one compact
// record because a Tree holds both for most of its nodes: the children kind's Stat is kept
// apart only while it differs from the data kind's, and errors only while a read fails.
type Record struct {
	data []byte // data kind; nil unless it exists
	// kids are the children kind's names, sorted; nil unless it exists and has children.
	// Kept apart so that a record fits its size class: most nodes of a tree are leaves.
	kids *[]string
	aux  *recordAux

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
func restoredFlag(k Kind) recFlags {
	if k == KindData {
		return recDataRestored
	}
	return recKidsRestored
}

// Restored reports whether kind k's state was loaded from the snapshot file and no server
// has confirmed it yet.
func (r *Record) Restored(k Kind) bool {
	return r.Has(k) && r.flags&restoredFlag(k) != 0
}

// WithKindOf returns r with kind k's state, restored mark included, taken from src, which
// must have it.
func (r *Record) WithKindOf(k Kind, src *Record) *Record {
	var data []byte
	var names []string
	if k == KindData {
		data = src.data
	} else {
		names = src.Names()
	}
	n := r.With(k, src.Exists(k), data, names, src.Stat(k), src.Err(k))
	n.flags |= src.flags & restoredFlag(k)
	return n
}

// Has reports whether kind k has had contact (from a server or the snapshot file).
func (r *Record) Has(k Kind) bool {
	if r == nil {
		return false
	}
	if k == KindData {
		return r.flags&recHasData != 0
	}
	return r.flags&recHasKids != 0
}

// Exists reports whether the node existed in kind k's state, which must have had contact.
func (r *Record) Exists(k Kind) bool {
	if k == KindData {
		return r.flags&recDataExists != 0
	}
	return r.flags&recKidsExists != 0
}

func (r *Record) mainStat() Stat {
	return Stat{
		Czxid: r.czxid, Mzxid: r.mzxid, Pzxid: r.pzxid, Ctime: r.ctime, Mtime: r.mtime,
		EphemeralOwner: r.ephemeralOwner, Version: r.version, Cversion: r.cversion,
		Aversion: r.aversion, DataLength: r.dataLength, NumChildren: r.numChildren,
	}
}

func (r *Record) setMainStat(s Stat) {
	r.czxid, r.mzxid, r.pzxid, r.ctime, r.mtime, r.ephemeralOwner = s.Czxid, s.Mzxid, s.Pzxid, s.Ctime, s.Mtime, s.EphemeralOwner
	r.version, r.cversion, r.aversion, r.dataLength, r.numChildren = s.Version, s.Cversion, s.Aversion, s.DataLength, s.NumChildren
}

// Stat returns the Stat of a kind that has had contact.
func (r *Record) Stat(k Kind) Stat {
	if k == KindChildren && r.aux != nil && r.aux.hasKstat {
		return r.aux.kstat
	}
	return r.mainStat()
}

// Err returns the error of a kind's last read.
func (r *Record) Err(k Kind) error {
	if r.aux == nil {
		return nil
	}
	if k == KindData {
		return r.aux.dErr
	}
	return r.aux.kErr
}

// Zxids returns what orders a kind's states: Czxid, then Mzxid (data) or Pzxid (children).
func (r *Record) Zxids(k Kind) (czxid, zxid int64) {
	s := r.Stat(k)
	if k == KindData {
		return s.Czxid, s.Mzxid
	}
	return s.Czxid, s.Pzxid
}

// Data is the data kind's bytes: nil unless the node exists. Shared: never modify it.
func (r *Record) Data() []byte { return r.data }

// Names is the children kind's sorted names: nil unless the node has children. Shared:
// never modify it.
func (r *Record) Names() []string {
	if r.kids == nil {
		return nil
	}
	return *r.kids
}

// NewRecord returns a record of kind k alone; see With.
func NewRecord(k Kind, exists bool, data []byte, names []string, st Stat, err error) *Record {
	var r *Record
	return r.With(k, exists, data, names, st, err)
}

// With returns a record holding a new state of kind k and the old state of the other kind.
// data is used for the data kind, names for the children kind.
func (r *Record) With(k Kind, exists bool, data []byte, names []string, st Stat, err error) *Record {
	var dHas, kHas, dEx, kEx bool
	var dData []byte
	var kNames *[]string
	var dStat, kStat Stat
	var dErr, kErr error
	if r.Has(KindData) {
		dHas, dEx, dData, dStat, dErr = true, r.Exists(KindData), r.data, r.Stat(KindData), r.Err(KindData)
	}
	if r.Has(KindChildren) {
		kHas, kEx, kNames, kStat, kErr = true, r.Exists(KindChildren), r.kids, r.Stat(KindChildren), r.Err(KindChildren)
	}
	if !exists {
		data, names, st = nil, nil, Stat{}
	}
	if k == KindData {
		dHas, dEx, dData, dStat, dErr = true, exists, data, st, err
	} else {
		kNames = nil
		if len(names) > 0 {
			kNames = &names
		}
		kHas, kEx, kStat, kErr = true, exists, st, err
	}
	n := makeRecord(dHas, dEx, dData, dStat, dErr, kHas, kEx, kNames, kStat, kErr)
	if r != nil { // the other kind keeps its restored mark
		if k == KindData {
			n.flags |= r.flags & restoredFlag(KindChildren)
		} else {
			n.flags |= r.flags & restoredFlag(KindData)
		}
	}
	return n
}

// Without returns the record with kind k forgotten, nil when no kind is left.
func (r *Record) Without(k Kind) *Record {
	if !r.Has(k) {
		return r
	}
	other := KindChildren
	if k == KindChildren {
		other = KindData
	}
	if !r.Has(other) {
		return nil
	}
	n := &Record{}
	if other == KindData {
		*n = Record{data: r.data, flags: r.flags & (recHasData | recDataExists | recDataRestored)}
		n.setMainStat(r.Stat(KindData))
		if e := r.Err(KindData); e != nil {
			n.aux = &recordAux{dErr: e}
		}
	} else {
		*n = Record{kids: r.kids, flags: r.flags & (recHasKids | recKidsExists | recKidsRestored)}
		n.setMainStat(r.Stat(KindChildren))
		if e := r.Err(KindChildren); e != nil {
			n.aux = &recordAux{kErr: e}
		}
	}
	return n
}

func makeRecord(dHas, dEx bool, data []byte, dStat Stat, dErr error, kHas, kEx bool, kids *[]string, kStat Stat, kErr error) *Record {
	n := &Record{data: data, kids: kids}
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
