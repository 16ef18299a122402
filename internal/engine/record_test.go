package engine

import (
	"errors"
	"slices"
	"testing"
	"unsafe"
)

func TestRecordKinds(t *testing.T) {
	var r *Record
	if r.Has(KindData) || r.Has(KindChildren) {
		t.Fatal("nil record has a kind")
	}
	st1 := Stat{Czxid: 5, Mzxid: 6, Pzxid: 7, Version: 1, DataLength: 2, NumChildren: 2}
	r = r.With(KindData, true, []byte("hi"), nil, st1, nil)
	if !r.Has(KindData) || r.Has(KindChildren) || r.aux != nil {
		t.Fatalf("after data: %+v", r)
	}
	r = r.With(KindChildren, true, nil, []string{"a", "b"}, st1, nil)
	if r.aux != nil {
		t.Fatal("equal stats kept twice")
	}
	v, c := r.value("/p"), r.children("/p")
	if string(v.Data) != "hi" || v.Stat != st1 || !v.Exists || v.Path != "/p" || v.Err != nil {
		t.Fatalf("value %+v", v)
	}
	if !slices.Equal(c.Names, []string{"a", "b"}) || c.Stat != st1 || !c.Exists {
		t.Fatalf("children %+v", c)
	}

	// The data changes: the children kind keeps the Stat of its own read.
	st2 := st1
	st2.Mzxid, st2.Version = 9, 2
	r2 := r.With(KindData, true, []byte("ho"), nil, st2, nil)
	if r2.Stat(KindData) != st2 || r2.Stat(KindChildren) != st1 || r2.aux == nil {
		t.Fatalf("data %+v children %+v", r2.Stat(KindData), r2.Stat(KindChildren))
	}
	if string(r.value("/p").Data) != "hi" {
		t.Fatal("a published record changed")
	}
	if c, z := r2.Zxids(KindData); c != 5 || z != 9 {
		t.Fatalf("data zxids %d %d", c, z)
	}
	if c, z := r2.Zxids(KindChildren); c != 5 || z != 7 {
		t.Fatalf("children zxids %d %d", c, z)
	}
	// A children read catching up makes the Stats equal again.
	r3 := r2.With(KindChildren, true, nil, []string{"a"}, st2, nil)
	if r3.aux != nil || r3.Stat(KindChildren) != st2 || len(r3.children("/p").Names) != 1 {
		t.Fatalf("after catch-up %+v", r3)
	}

	// Forgetting a kind keeps the other one whole.
	d := r2.Without(KindChildren)
	if d.Has(KindChildren) || d.Stat(KindData) != st2 || string(d.Data()) != "ho" || d.Names() != nil {
		t.Fatalf("without children %+v", d)
	}
	k := r2.Without(KindData)
	if k.Has(KindData) || k.Stat(KindChildren) != st1 || k.Data() != nil || len(k.Names()) != 2 {
		t.Fatalf("without data %+v", k)
	}
	if k.Without(KindChildren) != nil {
		t.Fatal("a record with no kind left")
	}
}

func TestRecordAbsentEmptyAndErrors(t *testing.T) {
	var r *Record
	r = r.With(KindChildren, true, nil, []string{}, Stat{Czxid: 1}, nil)
	if c := r.children("/p"); c.Names == nil || len(c.Names) != 0 || !c.Exists {
		t.Fatalf("existing node without children: %+v", c)
	}
	r = r.With(KindData, false, []byte("stale"), nil, Stat{Czxid: 3}, nil)
	if v := r.value("/p"); v.Exists || v.Data != nil || v.Stat != (Stat{}) {
		t.Fatalf("absent node: %+v", v)
	}
	if r.Stat(KindChildren) != (Stat{Czxid: 1}) {
		t.Fatalf("children stat lost: %+v", r.Stat(KindChildren))
	}
	r = r.With(KindChildren, false, nil, []string{"x"}, Stat{}, nil)
	if c := r.children("/p"); c.Exists || c.Names != nil {
		t.Fatalf("absent children: %+v", c)
	}

	errNA := errors.New("not authorized")
	r = r.With(KindData, true, nil, nil, Stat{Czxid: 4}, errNA)
	if !errors.Is(r.value("/p").Err, errNA) || r.Err(KindChildren) != nil {
		t.Fatalf("errors: %v %v", r.Err(KindData), r.Err(KindChildren))
	}
	r = r.With(KindData, true, []byte{}, nil, Stat{Czxid: 4}, nil)
	if r.Err(KindData) != nil || r.value("/p").Data == nil {
		t.Fatalf("recovered: %+v", r.value("/p"))
	}
	if k := r.With(KindChildren, true, nil, nil, Stat{Czxid: 4}, errNA).Without(KindData); !errors.Is(k.Err(KindChildren), errNA) {
		t.Fatal("error lost when forgetting the other kind")
	}
}

// The record is what a mirrored node costs: keep it in its size class.
func TestRecordSize(t *testing.T) {
	if s := unsafe.Sizeof(Record{}); s > 112 {
		t.Fatalf("record is %d bytes", s)
	}
}

// snap is a kind's state as the layers above show it.
type snap struct {
	Path     string
	Data     []byte
	Names    []string
	Stat     Stat
	Exists   bool
	Restored bool
	Err      error
}

func (r *Record) value(path string) snap {
	return snap{Path: path, Data: r.Data(), Stat: r.Stat(KindData), Exists: r.Exists(KindData), Restored: r.Restored(KindData), Err: r.Err(KindData)}
}

func (r *Record) children(path string) snap {
	names := r.Names()
	if names == nil && r.Exists(KindChildren) {
		names = []string{}
	}
	return snap{Path: path, Names: names, Stat: r.Stat(KindChildren), Exists: r.Exists(KindChildren), Restored: r.Restored(KindChildren), Err: r.Err(KindChildren)}
}

// The entry is what a held path costs the engine: keep it in its size class.
func TestEntrySize(t *testing.T) {
	if s := unsafe.Sizeof(entry{}); s > 32 {
		t.Fatalf("entry is %d bytes", s)
	}
}
