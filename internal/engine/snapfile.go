package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zkmirror/zkmirror/internal/inbox"
	"github.com/zkmirror/zkmirror/internal/run"
)

// The snapshot file (WithSnapshotFile).
//
// Layout, integers little-endian:
//
//	magic    8 bytes  "zkmsnap\n"
//	version  uint32   snapVersion
//	length   uint64   of the body
//	checksum uint32   CRC-32C (Castagnoli) of the body
//	body:
//	  chroot  string (uvarint length, bytes)
//	  count   uvarint
//	  count nodes, sorted by server path:
//	    path    uvarint bytes shared with the previous path, then the rest as a string
//	    flags   byte (snapHasData …)
//	    data    when the data kind exists: Stat, then data as a string
//	    names   when the children kind exists: Stat (unless snapKidsSameStat), uvarint
//	            count, then each name as a string
//
// A Stat is its 11 fields in go-zookeeper's order, as zigzag varints. A kind that has had
// contact but whose node is absent has no Stat; a kind whose last read failed (ErrNoAuth …)
// is not written.
const (
	snapMagic     = "zkmsnap\n"
	snapVersion   = 1
	snapHeaderLen = len(snapMagic) + 4 + 8 + 4

	// The interval between two writes while states change, and the longest retry delay
	// after a failed write.
	snapInterval   = time.Second
	snapRetryMax   = 30 * time.Second
	snapLingerRuns = 2 // writes a released path is still written in
)

const (
	snapHasData byte = 1 << iota
	snapDataExists
	snapHasKids
	snapKidsExists
	snapKidsSameStat // the children kind's Stat is the data kind's
	snapFlagsAll     = snapHasData | snapDataExists | snapHasKids | snapKidsExists | snapKidsSameStat
)

var snapCRC = crc32.MakeTable(crc32.Castagnoli)

// Why a snapshot file is ignored.
var (
	errSnapFormat  = errors.New("not a snapshot file")
	errSnapVersion = errors.New("written by a newer version")
	errSnapTrunc   = errors.New("truncated")
	errSnapCRC     = errors.New("checksum mismatch")
	errSnapCorrupt = errors.New("corrupt")
	errSnapChroot  = errors.New("taken under another chroot")
)

// snapItem is one path's state to write.
type snapItem struct {
	path string // on the server
	rec  *Record
}

// encodeSnapshot appends the file for items (sorted by path, unique) taken under root.
func encodeSnapshot(buf []byte, root string, items []snapItem) []byte {
	buf = append(buf[:0], snapMagic...)
	buf = binary.LittleEndian.AppendUint32(buf, snapVersion)
	buf = append(buf, make([]byte, 12)...) // length and checksum, below
	body := len(buf)
	buf = appendString(buf, root)
	n := 0
	for _, it := range items {
		if snapFlags(it.rec) != 0 {
			n++
		}
	}
	buf = binary.AppendUvarint(buf, uint64(n))
	prev := ""
	for _, it := range items {
		r := it.rec
		f := snapFlags(r)
		if f == 0 {
			continue
		}
		shared := commonPrefix(prev, it.path)
		buf = binary.AppendUvarint(buf, uint64(shared))
		buf = appendString(buf, it.path[shared:])
		prev = it.path
		buf = append(buf, f)
		if f&snapDataExists != 0 {
			buf = appendStat(buf, r.Stat(KindData))
			buf = binary.AppendUvarint(buf, uint64(len(r.data)))
			buf = append(buf, r.data...)
		}
		if f&snapKidsExists != 0 {
			if f&snapKidsSameStat == 0 {
				buf = appendStat(buf, r.Stat(KindChildren))
			}
			buf = binary.AppendUvarint(buf, uint64(len(r.Names())))
			for _, name := range r.Names() {
				buf = appendString(buf, name)
			}
		}
	}
	binary.LittleEndian.PutUint64(buf[body-12:], uint64(len(buf)-body))
	binary.LittleEndian.PutUint32(buf[body-4:], crc32.Checksum(buf[body:], snapCRC))
	return buf
}

// snapFlags says what of r is written; 0 for nothing.
func snapFlags(r *Record) byte {
	var f byte
	if r.Has(KindData) && r.Err(KindData) == nil {
		f |= snapHasData
		if r.Exists(KindData) {
			f |= snapDataExists
		}
	}
	if r.Has(KindChildren) && r.Err(KindChildren) == nil {
		f |= snapHasKids
		if r.Exists(KindChildren) {
			f |= snapKidsExists
			if f&snapDataExists != 0 && r.Stat(KindChildren) == r.Stat(KindData) {
				f |= snapKidsSameStat
			}
		}
	}
	return f
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

func appendStat(buf []byte, s Stat) []byte {
	for _, v := range [...]int64{s.Czxid, s.Mzxid, s.Pzxid, s.Ctime, s.Mtime, s.EphemeralOwner,
		int64(s.Version), int64(s.Cversion), int64(s.Aversion), int64(s.DataLength), int64(s.NumChildren)} {
		buf = binary.AppendVarint(buf, v)
	}
	return buf
}

// decodeSnapshot reads a snapshot file taken under root. It returns every path's restored
// record, keyed by server path, or an error and nothing: a file is applied whole or not at
// all.
func decodeSnapshot(b []byte, root string, validPath func(string) bool) (map[string]*Record, error) {
	if len(b) < len(snapMagic) || string(b[:len(snapMagic)]) != snapMagic {
		return nil, errSnapFormat
	}
	if len(b) < snapHeaderLen {
		return nil, errSnapTrunc
	}
	if v := binary.LittleEndian.Uint32(b[len(snapMagic):]); v != snapVersion {
		if v > snapVersion {
			return nil, fmt.Errorf("%w (format %d, this one reads %d)", errSnapVersion, v, snapVersion)
		}
		return nil, fmt.Errorf("%w: format %d", errSnapFormat, v)
	}
	length := binary.LittleEndian.Uint64(b[len(snapMagic)+4:])
	sum := binary.LittleEndian.Uint32(b[len(snapMagic)+12:])
	body := b[snapHeaderLen:]
	switch {
	case uint64(len(body)) < length:
		return nil, fmt.Errorf("%w: %d of %d bytes", errSnapTrunc, len(body), length)
	case uint64(len(body)) > length:
		return nil, fmt.Errorf("%w: %d bytes after the end", errSnapCorrupt, uint64(len(body))-length)
	case crc32.Checksum(body, snapCRC) != sum:
		return nil, errSnapCRC
	}
	// Data and names are slices of one copy of the body, so that a large tree costs a few
	// allocations per node; the restored records, which hold them, are replaced by the
	// server's states at the first session.
	arena := slices.Clone(body)
	r := snapReader{b: arena, s: string(arena)}
	if got := r.str(); r.err == nil && got != root {
		return nil, fmt.Errorf("%w %q, not %q", errSnapChroot, got, root)
	}
	n := r.uvarint()
	if r.err == nil && n > uint64(len(body)) { // every node takes more than a byte
		r.fail("node count")
	}
	out := make(map[string]*Record, min(n, 1<<20))
	var prev string
	for i := uint64(0); i < n && r.err == nil; i++ {
		shared := r.uvarint()
		rest := r.str()
		if r.err != nil {
			break
		}
		if shared > uint64(len(prev)) {
			r.fail("path prefix")
			break
		}
		p := prev[:shared] + rest
		if p <= prev || !validPath(p) {
			r.fail("path order or syntax")
			break
		}
		if !underRoot(root, p) {
			r.fail("path outside the chroot")
			break
		}
		prev = p
		rec := r.node()
		if r.err == nil {
			out[p] = rec
		}
	}
	if r.err == nil && r.off != len(body) {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return nil, r.err
	}
	return out, nil
}

// snapReader decodes a snapshot body; the first error sticks.
type snapReader struct {
	b   []byte
	s   string // the same bytes as b
	off int
	err error
}

func (r *snapReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at byte %d", errSnapCorrupt, what, snapHeaderLen+r.off)
	}
}

func (r *snapReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail("number")
		return 0
	}
	r.off += n
	return v
}

func (r *snapReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.fail("number")
		return 0
	}
	r.off += n
	return v
}

func (r *snapReader) int32() int32 {
	v := r.varint()
	if v != int64(int32(v)) {
		r.fail("32-bit field")
	}
	return int32(v)
}

// span reads a length and returns the bounds of that many bytes.
func (r *snapReader) span() (int, int) {
	n := r.uvarint()
	if r.err != nil {
		return 0, 0
	}
	if n > uint64(len(r.b)-r.off) {
		r.fail("length")
		return 0, 0
	}
	i := r.off
	r.off += int(n)
	return i, r.off
}

func (r *snapReader) bytes() []byte {
	i, j := r.span()
	return r.b[i:j:j]
}

func (r *snapReader) str() string {
	i, j := r.span()
	return r.s[i:j]
}

func (r *snapReader) Stat() Stat {
	return Stat{
		Czxid: r.varint(), Mzxid: r.varint(), Pzxid: r.varint(), Ctime: r.varint(), Mtime: r.varint(),
		EphemeralOwner: r.varint(), Version: r.int32(), Cversion: r.int32(), Aversion: r.int32(),
		DataLength: r.int32(), NumChildren: r.int32(),
	}
}

// node decodes one node's kinds into a record marked restored.
func (r *snapReader) node() *Record {
	if r.err != nil || r.off >= len(r.b) {
		r.fail("node")
		return nil
	}
	f := r.b[r.off]
	r.off++
	switch {
	case f&^snapFlagsAll != 0,
		f&(snapHasData|snapHasKids) == 0,
		f&snapDataExists != 0 && f&snapHasData == 0,
		f&snapKidsExists != 0 && f&snapHasKids == 0,
		f&snapKidsSameStat != 0 && (f&snapDataExists == 0 || f&snapKidsExists == 0):
		r.fail("node flags")
		return nil
	}
	var data []byte
	var names []string
	var dstat, kstat Stat
	if f&snapDataExists != 0 {
		dstat = r.Stat()
		data = r.bytes()
	}
	if f&snapKidsExists != 0 {
		kstat = dstat
		if f&snapKidsSameStat == 0 {
			kstat = r.Stat()
		}
		n := r.uvarint()
		if r.err == nil && n > uint64(len(r.b)-r.off) {
			r.fail("name count")
		}
		if r.err != nil {
			return nil
		}
		if n > 0 {
			names = make([]string, 0, n)
		}
		for range n {
			name := r.str()
			if r.err != nil {
				return nil
			}
			if name == "" || strings.IndexByte(name, '/') >= 0 || (len(names) > 0 && name <= names[len(names)-1]) {
				r.fail("child name")
				return nil
			}
			names = append(names, name)
		}
	}
	var kids *[]string
	if len(names) > 0 {
		kids = &names
	}
	rec := makeRecord(f&snapHasData != 0, f&snapDataExists != 0, data, dstat, nil, f&snapHasKids != 0, f&snapKidsExists != 0, kids, kstat, nil)
	if f&snapHasData != 0 {
		rec.flags |= recDataRestored
	}
	if f&snapHasKids != 0 {
		rec.flags |= recKidsRestored
	}
	if r.err != nil {
		return nil
	}
	return rec
}

// snapTmpSuffix ends the names of the temporary files a write renames over the file.
const snapTmpSuffix = ".tmp"

// loadSnapshot reads the snapshot file at path. A missing file is normal; one that cannot
// be used is logged once (Warn), set aside as path+".bad" and ignored; something that is not
// a regular file (a FIFO, a device) is ignored without being read. Temporary files left by
// writes that a crash interrupted are removed.
func loadSnapshot(path string, root string, validPath func(string) bool, log *slog.Logger) map[string]*Record {
	start := time.Now()
	if stale, _ := filepath.Glob(globEscape(path) + ".*" + snapTmpSuffix); len(stale) > 0 {
		for _, f := range stale {
			os.Remove(f)
		}
	}
	b, err := readRegular(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		log.Debug("no snapshot file yet", "file", path)
		return nil
	case err != nil:
		log.Warn("snapshot file cannot be read; starting without it", "file", path, "err", err)
		return nil
	}
	recs, err := decodeSnapshot(b, root, validPath)
	if err != nil {
		bad := path + ".bad"
		if rerr := os.Rename(path, bad); rerr != nil {
			log.Warn("snapshot file ignored; it could not be set aside and will be replaced", "file", path, "err", err, "rename_err", rerr)
		} else {
			log.Warn("snapshot file ignored and set aside", "file", path, "kept_as", bad, "err", err)
		}
		return nil
	}
	log.Info("snapshot file loaded", "file", path, "paths", len(recs), "bytes", len(b), "took", time.Since(start))
	return recs
}

// readRegular reads the file at path if it is a regular file.
func readRegular(path string) ([]byte, error) {
	// O_NONBLOCK: opening a FIFO would otherwise wait for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%v)", path, st.Mode().Type())
	}
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, err
	}
	return b, nil
}

// globEscape quotes the pattern characters of a file name for filepath.Glob.
func globEscape(path string) string {
	var b strings.Builder
	for _, r := range path {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// writeSnapshotFile replaces the file at path with data atomically: a temporary file in
// the same directory, written and synced, renamed over path, then the directory synced.
// A crash at any point leaves either the old file or the new one.
func writeSnapshotFile(path string, data []byte) (err error) {
	// A temporary name of its own (created exclusively, mode 0600): two writers of one file
	// cannot write into each other's, and the last rename wins whole.
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*"+snapTmpSuffix)
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, errors.ErrUnsupported) {
		return err // some file systems cannot sync a directory; the rename is done
	}
	return nil
}

// snapState is the engine's side of the snapshot file, guarded by the engine's lock.
type snapState struct {
	// restored holds the file's states until the first session: a path acquired before
	// then starts from its restored state. Dropped at the first session; until then the
	// paths nobody holds are written back as they were loaded.
	restored map[string]*Record
	// linger holds the last state of paths released lately, so that handles closed just
	// before the Mirror (deferred calls) do not take their paths out of the last write.
	linger map[string]*lingerRec
	dirty  bool
	wake   inbox.Signal // the writer has something to write
}

type lingerRec struct {
	rec  *Record
	left int // writes it is still part of
}

func (s *snapState) markLocked() {
	if s.dirty {
		return
	}
	s.dirty = true
	s.wake.Poke()
}

// restoreLocked gives a newly held kind its restored state, if the file had one.
func (g *Engine) restoreLocked(spath string, e *entry, k Kind) {
	if s := g.snap; s != nil && !e.rec.Has(k) {
		if r := s.restored[spath]; r.Has(k) {
			e.rec = e.rec.WithKindOf(k, r)
		}
	}
}

func (g *Engine) snapDirtyLocked() {
	if g.snap != nil {
		g.snap.markLocked()
	}
}

// snapReleasedLocked keeps the state of a kind its last holder lets go of for the next
// writes.
func (g *Engine) snapReleasedLocked(spath string, e *entry, k Kind) {
	s := g.snap
	if s == nil || !e.rec.Has(k) {
		return
	}
	l := s.linger[spath]
	if l == nil {
		l = &lingerRec{}
		s.linger[spath] = l
	}
	l.rec, l.left = l.rec.WithKindOf(k, e.rec), snapLingerRuns
	s.markLocked()
}

// dropRestoredLocked forgets the restored states nobody holds, at the first session.
func (g *Engine) dropRestoredLocked() {
	if s := g.snap; s != nil && s.restored != nil {
		s.restored = nil
		s.markLocked()
	}
}

// snapItemsLocked collects what to write: every held path's state, then the released
// paths still lingering and, before the first session, the restored ones. final: the last
// write, at Close, which takes every lingering path.
func (g *Engine) snapItemsLocked(final bool) []snapItem {
	s := g.snap
	s.dirty = false
	fill := func(p string, rec *Record) *Record {
		for k := range Kind(2) {
			if rec.Has(k) {
				continue
			}
			if l := s.linger[p]; l != nil && l.rec.Has(k) {
				rec = rec.WithKindOf(k, l.rec)
			} else if r := s.restored[p]; r.Has(k) {
				rec = rec.WithKindOf(k, r)
			}
		}
		return rec
	}
	items := make([]snapItem, 0, len(g.entries)+len(s.linger)+len(s.restored))
	for p, e := range g.entries {
		if rec := fill(p, e.rec); rec != nil {
			items = append(items, snapItem{p, rec})
		}
	}
	for p, l := range s.linger {
		if g.entries[p] == nil {
			items = append(items, snapItem{p, fill(p, l.rec)})
		}
		if l.left--; l.left <= 0 && !final {
			delete(s.linger, p)
		}
	}
	for p, r := range s.restored {
		if g.entries[p] == nil && s.linger[p] == nil {
			items = append(items, snapItem{p, r})
		}
	}
	if len(s.linger) > 0 {
		s.markLocked() // written out of the file by a later write
	}
	return items
}

// snapWriter writes the snapshot file: at most once per snapInterval while states change,
// with growing delays while writes fail, and once more when the engine closes. It never
// holds the engine's lock while encoding or writing.
type snapWriter struct {
	path string
	log  *slog.Logger
	g    *Engine
	grp  run.Group // the writer's goroutine, stopped once the engine's have ended
	buf  []byte

	writes atomic.Int64 // files written, for tests
}

// newSnapState loads the file, for an engine that has not started.
func newSnapState(path, root string, validPath func(string) bool, log *slog.Logger) *snapState {
	return &snapState{
		restored: loadSnapshot(path, root, validPath, log),
		linger:   make(map[string]*lingerRec),
		wake:     inbox.NewSignal(),
	}
}

// underRoot reports whether server path p is root or below it ("" is the server's root).
func underRoot(root, p string) bool {
	return root == "" || p == root || (strings.HasPrefix(p, root) && len(p) > len(root) && p[len(root)] == '/')
}

// SnapshotWrites returns the number of snapshot files written.
func (g *Engine) SnapshotWrites() int64 {
	if g.snapw == nil {
		return 0
	}
	return g.snapw.writes.Load()
}

func (w *snapWriter) run() {
	var last time.Time
	var retry time.Duration // while writes fail
	for {
		select {
		case <-w.grp.Stopping():
			w.write(true)
			return
		case <-w.g.snap.wake.C():
		}
		wait := snapInterval
		if retry > 0 {
			wait = retry
		}
		if d := time.Until(last.Add(wait)); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-w.grp.Stopping():
				t.Stop()
				w.write(true)
				return
			case <-t.C:
			}
		}
		err := w.write(false)
		last = time.Now()
		switch {
		case err != nil && retry == 0:
			retry = snapInterval
		case err != nil:
			retry = min(2*retry, snapRetryMax)
		case retry > 0:
			w.log.Info("snapshot file written again", "file", w.path)
			retry = 0
		}
	}
}

// write writes the file if anything changed since the last write; a failure is logged and
// the state stays to be written.
func (w *snapWriter) write(final bool) error {
	g := w.g
	g.mu.Lock()
	if !g.snap.dirty {
		g.mu.Unlock()
		return nil
	}
	items := g.snapItemsLocked(final)
	g.mu.Unlock()
	slices.SortFunc(items, func(a, b snapItem) int { return strings.Compare(a.path, b.path) })
	w.buf = encodeSnapshot(w.buf, g.cfg.Chroot, items)
	err := writeSnapshotFile(w.path, w.buf)
	if cap(w.buf) > 4*len(w.buf) { // do not keep a buffer for a tree that shrank
		w.buf = nil
	}
	if err != nil {
		g.mu.Lock()
		g.snap.markLocked()
		g.mu.Unlock()
		w.log.Warn("snapshot file not written; retrying", "file", w.path, "err", err)
		return err
	}
	w.writes.Add(1)
	return nil
}

// WriteSnapshot writes a snapshot file of recs (by server path) as an engine under chroot
// would.
func WriteSnapshot(file, chroot string, recs map[string]*Record) error {
	items := make([]snapItem, 0, len(recs))
	for p, r := range recs {
		items = append(items, snapItem{p, r})
	}
	slices.SortFunc(items, func(a, b snapItem) int { return strings.Compare(a.path, b.path) })
	return writeSnapshotFile(file, encodeSnapshot(nil, chroot, items))
}
