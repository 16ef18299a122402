package zkmirror

import (
	"errors"
	"slices"
	"testing"
	"unsafe"
)

func TestRecordKinds(t *testing.T) {
	var r *record
	if r.has(kindData) || r.has(kindChildren) {
		t.Fatal("nil record has a kind")
	}
	st1 := Stat{Czxid: 5, Mzxid: 6, Pzxid: 7, Version: 1, DataLength: 2, NumChildren: 2}
	r = r.with(kindData, true, []byte("hi"), nil, st1, nil)
	if !r.has(kindData) || r.has(kindChildren) || r.aux != nil {
		t.Fatalf("after data: %+v", r)
	}
	r = r.with(kindChildren, true, nil, []string{"a", "b"}, st1, nil)
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
	r2 := r.with(kindData, true, []byte("ho"), nil, st2, nil)
	if r2.stat(kindData) != st2 || r2.stat(kindChildren) != st1 || r2.aux == nil {
		t.Fatalf("data %+v children %+v", r2.stat(kindData), r2.stat(kindChildren))
	}
	if string(r.value("/p").Data) != "hi" {
		t.Fatal("a published record changed")
	}
	if c, z := r2.zxids(kindData); c != 5 || z != 9 {
		t.Fatalf("data zxids %d %d", c, z)
	}
	if c, z := r2.zxids(kindChildren); c != 5 || z != 7 {
		t.Fatalf("children zxids %d %d", c, z)
	}
	// A children read catching up makes the Stats equal again.
	r3 := r2.with(kindChildren, true, nil, []string{"a"}, st2, nil)
	if r3.aux != nil || r3.stat(kindChildren) != st2 || len(r3.children("/p").Names) != 1 {
		t.Fatalf("after catch-up %+v", r3)
	}

	// Forgetting a kind keeps the other one whole.
	d := r2.without(kindChildren)
	if d.has(kindChildren) || d.stat(kindData) != st2 || string(d.data) != "ho" || d.names != nil {
		t.Fatalf("without children %+v", d)
	}
	k := r2.without(kindData)
	if k.has(kindData) || k.stat(kindChildren) != st1 || k.data != nil || len(k.names) != 2 {
		t.Fatalf("without data %+v", k)
	}
	if k.without(kindChildren) != nil {
		t.Fatal("a record with no kind left")
	}
}

func TestRecordAbsentEmptyAndErrors(t *testing.T) {
	var r *record
	r = r.with(kindChildren, true, nil, []string{}, Stat{Czxid: 1}, nil)
	if c := r.children("/p"); c.Names == nil || len(c.Names) != 0 || !c.Exists {
		t.Fatalf("existing node without children: %+v", c)
	}
	r = r.with(kindData, false, []byte("stale"), nil, Stat{Czxid: 3}, nil)
	if v := r.value("/p"); v.Exists || v.Data != nil || v.Stat != (Stat{}) {
		t.Fatalf("absent node: %+v", v)
	}
	if r.stat(kindChildren) != (Stat{Czxid: 1}) {
		t.Fatalf("children stat lost: %+v", r.stat(kindChildren))
	}
	r = r.with(kindChildren, false, nil, []string{"x"}, Stat{}, nil)
	if c := r.children("/p"); c.Exists || c.Names != nil {
		t.Fatalf("absent children: %+v", c)
	}

	errNA := newErr("read", "/p", ErrNoAuth, nil)
	r = r.with(kindData, true, nil, nil, Stat{Czxid: 4}, errNA)
	if !errors.Is(r.value("/p").Err, ErrNoAuth) || r.err(kindChildren) != nil {
		t.Fatalf("errors: %v %v", r.err(kindData), r.err(kindChildren))
	}
	r = r.with(kindData, true, []byte{}, nil, Stat{Czxid: 4}, nil)
	if r.err(kindData) != nil || r.value("/p").Data == nil {
		t.Fatalf("recovered: %+v", r.value("/p"))
	}
	if k := r.with(kindChildren, true, nil, nil, Stat{Czxid: 4}, errNA).without(kindData); !errors.Is(k.err(kindChildren), ErrNoAuth) {
		t.Fatal("error lost when forgetting the other kind")
	}
}

// The record is what a mirrored node costs: keep it in its size class.
func TestRecordSize(t *testing.T) {
	if s := unsafe.Sizeof(record{}); s > 128 {
		t.Fatalf("record is %d bytes", s)
	}
}
