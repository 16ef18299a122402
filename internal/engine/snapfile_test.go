package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func testStat(i int64) Stat {
	return Stat{Czxid: i, Mzxid: i + 1, Pzxid: i + 2, Ctime: 1700000000000 + i, Mtime: -i, EphemeralOwner: 1 << 62,
		Version: int32(i), Cversion: -1, Aversion: 1<<31 - 1, DataLength: -1 << 31, NumChildren: 2}
}

// testItems covers every shape a record can have in the file.
func testItems() []snapItem {
	var none *Record
	both := none.With(KindData, true, []byte("hello"), nil, testStat(10), nil).
		With(KindChildren, true, nil, []string{"a", "b"}, testStat(10), nil)
	apart := none.With(KindData, true, []byte{}, nil, testStat(20), nil).
		With(KindChildren, true, nil, nil, testStat(21), nil)
	absent := none.With(KindData, false, nil, nil, Stat{}, nil).With(KindChildren, false, nil, nil, Stat{}, nil)
	dataOnly := none.With(KindData, true, bytes.Repeat([]byte{0, 0xff}, 300), nil, testStat(30), nil)
	kidsOnly := none.With(KindChildren, true, nil, []string{"x", "y", "z\u00e9"}, testStat(40), nil)
	noAuth := none.With(KindData, true, nil, nil, testStat(50), errors.New("not authorized")).With(KindChildren, true, nil, []string{"q"}, testStat(50), nil)
	return []snapItem{
		{"/", kidsOnly},
		{"/app", both},
		{"/app/a", apart},
		{"/app/b", absent},
		{"/app/b/c", dataOnly},
		{"/other", noAuth},
	}
}

// restoredCopy is what decoding r should give: its kinds without errors, marked restored.
func restoredCopy(r *Record) *Record {
	var out *Record
	for k := range Kind(2) {
		if r.Has(k) && r.Err(k) == nil {
			out = out.WithKindOf(k, r)
			out.flags |= restoredFlag(k)
		}
	}
	return out
}

func TestSnapshotRoundTrip(t *testing.T) {
	for _, root := range []string{"", "/app"} {
		var items []snapItem
		for _, it := range testItems() {
			if underRoot(root, it.path) {
				items = append(items, it)
			}
		}
		b := encodeSnapshot(nil, root, items)
		got, err := decodeSnapshot(b, root, validPath)
		if err != nil {
			t.Fatalf("chroot %q: %v", root, err)
		}
		if len(got) != len(items) {
			t.Fatalf("chroot %q: %d paths, want %d", root, len(got), len(items))
		}
		for _, it := range items {
			want := restoredCopy(it.rec)
			if !reflect.DeepEqual(got[it.path], want) {
				t.Errorf("chroot %q, %s:\n got %+v\nwant %+v", root, it.path, got[it.path], want)
			}
			for k := range Kind(2) {
				if want.Has(k) && !got[it.path].Restored(k) {
					t.Errorf("%s kind %d not marked restored", it.path, k)
				}
			}
		}
		// A decoded file encodes to the same bytes.
		var again []snapItem
		for _, it := range items {
			again = append(again, snapItem{it.path, got[it.path]})
		}
		if b2 := encodeSnapshot(nil, root, again); !bytes.Equal(b, b2) {
			t.Errorf("chroot %q: re-encoding differs", root)
		}
	}
}

func TestRecordRestoredMarks(t *testing.T) {
	var none *Record
	src := restoredCopy(none.With(KindData, true, []byte("d"), nil, testStat(1), nil).With(KindChildren, true, nil, []string{"a"}, testStat(1), nil))
	if !src.Restored(KindData) || !src.Restored(KindChildren) {
		t.Fatal("restoredCopy lost the marks")
	}
	// A server state of one kind keeps the other kind's mark.
	r := src.With(KindData, true, []byte("server"), nil, testStat(5), nil)
	if r.Restored(KindData) || !r.Restored(KindChildren) {
		t.Fatalf("after a data read: data %v kids %v", r.Restored(KindData), r.Restored(KindChildren))
	}
	r = src.With(KindChildren, false, nil, nil, Stat{}, nil)
	if !r.Restored(KindData) || r.Restored(KindChildren) {
		t.Fatalf("after a children read: data %v kids %v", r.Restored(KindData), r.Restored(KindChildren))
	}
	if w := src.Without(KindData); w.Has(KindData) || !w.Restored(KindChildren) {
		t.Fatal("without(data) lost the children's mark")
	}
	if w := src.Without(KindChildren); w.Has(KindChildren) || !w.Restored(KindData) {
		t.Fatal("without(children) lost the data's mark")
	}
	if v := src.value("/p"); !v.Restored {
		t.Fatal("value of a restored record not Restored")
	}
	if c := r.children("/p"); c.Restored {
		t.Fatal("children read from a server Restored")
	}
	var nilRec *Record
	if nilRec.Restored(KindData) {
		t.Fatal("nil record restored")
	}
}

// reseal recomputes the length and checksum of a file whose body was edited.
func reseal(b []byte) []byte {
	b = slices.Clone(b)
	binary.LittleEndian.PutUint64(b[len(snapMagic)+4:], uint64(len(b)-snapHeaderLen))
	binary.LittleEndian.PutUint32(b[len(snapMagic)+12:], crc32.Checksum(b[snapHeaderLen:], snapCRC))
	return b
}

func TestSnapshotDecodeRejects(t *testing.T) {
	good := encodeSnapshot(nil, "", testItems())
	body := func(parts ...[]byte) []byte { // a sealed file with this body
		b := encodeSnapshot(nil, "", nil)[:snapHeaderLen]
		for _, p := range parts {
			b = append(b, p...)
		}
		return reseal(b)
	}
	uv := func(v uint64) []byte { return binary.AppendUvarint(nil, v) }
	str := func(s string) []byte { return appendString(nil, s) }
	future := slices.Clone(good)
	binary.LittleEndian.PutUint32(future[len(snapMagic):], snapVersion+1)
	flipped := slices.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	cases := []struct {
		name string
		file []byte
		root string
		want error
	}{
		{"empty", nil, "", errSnapFormat},
		{"other magic", []byte("{\"json\": true}"), "", errSnapFormat},
		{"header cut", good[:snapHeaderLen-3], "", errSnapTrunc},
		{"truncated", good[:len(good)-7], "", errSnapTrunc},
		{"extra bytes", append(slices.Clone(good), 0), "", errSnapCorrupt},
		{"flipped bit", flipped, "", errSnapCRC},
		{"future version", future, "", errSnapVersion},
		{"foreign chroot", encodeSnapshot(nil, "/a", nil), "/b", errSnapChroot},
		{"no chroot vs chroot", good, "/app", errSnapChroot},
		{"count too big", body(str(""), uv(1<<40)), "", errSnapCorrupt},
		{"bad path", body(str(""), uv(1), uv(0), str("nope"), []byte{snapHasData}), "", errSnapCorrupt},
		{"path outside chroot", body(str("/app"), uv(1), uv(0), str("/other"), []byte{snapHasData}), "/app", errSnapCorrupt},
		{"paths out of order", body(str(""), uv(2), uv(0), str("/b"), []byte{snapHasData}, uv(0), str("/a"), []byte{snapHasData}), "", errSnapCorrupt},
		{"duplicate path", body(str(""), uv(2), uv(0), str("/a"), []byte{snapHasData}, uv(2), str(""), []byte{snapHasData}), "", errSnapCorrupt},
		{"prefix too long", body(str(""), uv(1), uv(5), str("/a"), []byte{snapHasData}), "", errSnapCorrupt},
		{"no kind", body(str(""), uv(1), uv(0), str("/a"), []byte{0}), "", errSnapCorrupt},
		{"unknown flag", body(str(""), uv(1), uv(0), str("/a"), []byte{snapHasData | 0x80}), "", errSnapCorrupt},
		{"exists without kind", body(str(""), uv(1), uv(0), str("/a"), []byte{snapDataExists}), "", errSnapCorrupt},
		{"data length too big", body(str(""), uv(1), uv(0), str("/a"), []byte{snapHasData | snapDataExists}, appendStat(nil, Stat{}), uv(1000)), "", errSnapCorrupt},
		{"32-bit field too big", body(str(""), uv(1), uv(0), str("/a"), []byte{snapHasData | snapDataExists}, bytes.Repeat([]byte{0}, 6), binary.AppendVarint(nil, 1<<40), bytes.Repeat([]byte{0}, 4), uv(0)), "", errSnapCorrupt},
		{"names unsorted", body(str(""), uv(1), uv(0), str("/a"), []byte{snapHasKids | snapKidsExists}, appendStat(nil, Stat{}), uv(2), str("b"), str("a")), "", errSnapCorrupt},
		{"name with slash", body(str(""), uv(1), uv(0), str("/a"), []byte{snapHasKids | snapKidsExists}, appendStat(nil, Stat{}), uv(1), str("b/c")), "", errSnapCorrupt},
		{"empty name", body(str(""), uv(1), uv(0), str("/a"), []byte{snapHasKids | snapKidsExists}, appendStat(nil, Stat{}), uv(1), str("")), "", errSnapCorrupt},
		{"name count too big", body(str(""), uv(1), uv(0), str("/a"), []byte{snapHasKids | snapKidsExists}, appendStat(nil, Stat{}), uv(1<<50)), "", errSnapCorrupt},
		{"node cut", body(str(""), uv(1), uv(0), str("/a")), "", errSnapCorrupt},
		{"trailing bytes", body(str(""), uv(0), []byte{1}), "", errSnapCorrupt},
	}
	for _, c := range cases {
		got, err := decodeSnapshot(c.file, c.root, validPath)
		if !errors.Is(err, c.want) || got != nil {
			t.Errorf("%s: got %d paths, err %v; want nothing and %v", c.name, len(got), err, c.want)
		}
	}
	if _, err := decodeSnapshot(good, "", validPath); err != nil {
		t.Fatalf("the good file: %v", err)
	}
}

func FuzzSnapshotDecode(f *testing.F) {
	good := encodeSnapshot(nil, "", testItems())
	f.Add(good, "")
	f.Add(encodeSnapshot(nil, "/app", testItems()[1:5]), "/app")
	f.Add(good[:len(good)/2], "")
	f.Add([]byte(snapMagic), "")
	f.Fuzz(func(t *testing.T, b []byte, root string) {
		if !validPath(root) || root == "/" {
			root = ""
		}
		// Unsealed input mostly fails the checksum; sealing it too reaches the body decoder.
		for _, in := range [][]byte{b, sealed(b)} {
			recs, err := decodeSnapshot(in, root, validPath)
			if err != nil {
				if recs != nil {
					t.Fatalf("an error and %d paths: half applied", len(recs))
				}
				continue
			}
			// What decodes is valid and encodes back to a file that decodes the same.
			var items []snapItem
			for p, r := range recs {
				if !validPath(p) || r == nil || (!r.Has(KindData) && !r.Has(KindChildren)) {
					t.Fatalf("decoded %q: %+v", p, r)
				}
				if !slices.IsSorted(r.Names()) || slices.ContainsFunc(r.Names(), func(n string) bool { return n == "" || strings.Contains(n, "/") }) {
					t.Fatalf("decoded names of %q: %q", p, r.Names())
				}
				items = append(items, snapItem{p, r})
			}
			slices.SortFunc(items, func(a, b snapItem) int { return strings.Compare(a.path, b.path) })
			again, err := decodeSnapshot(encodeSnapshot(nil, root, items), root, validPath)
			if err != nil || !reflect.DeepEqual(again, recs) {
				t.Fatalf("re-encoded file: %v", err)
			}
		}
	})
}

// sealed gives b a header that matches it.
func sealed(b []byte) []byte {
	h := make([]byte, snapHeaderLen, snapHeaderLen+len(b))
	copy(h, snapMagic)
	binary.LittleEndian.PutUint32(h[len(snapMagic):], snapVersion)
	return reseal(append(h, b...))
}

// benchItems is a tree of n nodes with 100-byte data, as the bench program's memory
// scenario mirrors it.
func benchItems(n int) []snapItem {
	var none *Record
	names := make([]string, n)
	items := make([]snapItem, 0, n+1)
	for i := range n {
		names[i] = "n" + strings.Repeat("0", 6-len(itoa(i))) + itoa(i)
	}
	st := testStat(1)
	items = append(items, snapItem{"/zkmirror-bench/memory", none.With(KindData, true, nil, nil, st, nil).With(KindChildren, true, nil, names, st, nil)})
	data := bytes.Repeat([]byte("d"), 100)
	for i, nm := range names {
		st := testStat(int64(1000 + i))
		items = append(items, snapItem{"/zkmirror-bench/memory/" + nm, none.With(KindData, true, data, nil, st, nil).With(KindChildren, true, nil, nil, st, nil)})
	}
	return items
}

func itoa(i int) string { return strconv.Itoa(i) }

func BenchmarkSnapshotEncode100k(b *testing.B) {
	items := benchItems(100_000)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = encodeSnapshot(buf, "", items)
	}
	b.ReportMetric(float64(len(buf)), "file-bytes")
}

func BenchmarkSnapshotDecode100k(b *testing.B) {
	file := encodeSnapshot(nil, "", benchItems(100_000))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeSnapshot(file, "", validPath); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSnapshotWrite100k(b *testing.B) {
	file := encodeSnapshot(nil, "", benchItems(100_000))
	path := b.TempDir() + "/bench.snap"
	for b.Loop() {
		if err := writeSnapshotFile(path, file); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSnapshotWritersDoNotTear: two writers of one file (an old and a new process during a
// restart) each replace it whole: a reader never finds a file that does not decode, and no
// write fails because of the other.
func TestSnapshotWritersDoNotTear(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snap")
	items := testItems()
	files := [2][]byte{encodeSnapshot(nil, "", items), encodeSnapshot(nil, "", items[:3])}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w := range 2 {
		wg.Go(func() {
			for range 200 {
				if err := writeSnapshotFile(path, files[w]); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	stop, done := make(chan struct{}), make(chan struct{})
	var reads, torn int
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			b, err := os.ReadFile(path)
			if err == nil {
				reads++
				if _, err := decodeSnapshot(b, "", validPath); err != nil {
					torn++
				}
			}
		}
	}()
	wg.Wait()
	close(stop)
	close(errs)
	for err := range errs {
		t.Errorf("a write failed: %v", err)
	}
	<-done
	if torn > 0 {
		t.Fatalf("%d of %d reads found a torn file", torn, reads)
	}
	if tmps, _ := filepath.Glob(path + ".*.tmp"); len(tmps) > 0 {
		t.Fatalf("temporary files left: %v", tmps)
	}
}

// TestSnapshotLoadIgnoresNonRegular: a FIFO at the file's path is not read (reading it would
// block Connect), and stale temporary files of interrupted writes are removed.
func TestSnapshotLoadIgnoresNonRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "snap")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	stale := fifo + ".123.tmp"
	if err := os.WriteFile(stale, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	loaded := make(chan map[string]*Record, 1)
	go func() { loaded <- loadSnapshot(fifo, "", validPath, log) }()
	select {
	case recs := <-loaded:
		if recs != nil {
			t.Fatalf("loaded %d records from a FIFO", len(recs))
		}
	case <-time.After(5 * time.Second):
		// Unblock the reader so the goroutine ends, then fail.
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		<-loaded
		t.Fatal("loading a FIFO blocked")
	}
	if !strings.Contains(logs.String(), "not a regular file") {
		t.Fatalf("no warning about the FIFO:\n%s", logs.String())
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale temporary file kept: %v", err)
	}
}

// validPath is a path check for the decoder's tests: absolute, no empty name, no trailing
// slash (the engine is given ZooKeeper's own rules).
func validPath(p string) bool {
	return p == "/" || (strings.HasPrefix(p, "/") && !strings.HasSuffix(p, "/") && !strings.Contains(p, "//"))
}
