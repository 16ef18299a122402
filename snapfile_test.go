package zkmirror_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/leaktest"
)

// The kill test re-executes the test binary as a child that writes snapshot files in a loop
// until it is killed; it does so before TestMain starts any server.
const snapWriterEnv = "ZKMIRROR_TEST_SNAPSHOT_WRITER"

func init() {
	if file := os.Getenv(snapWriterEnv); file != "" {
		os.Exit(snapshotWriterChild(file))
	}
}

const (
	killNodes    = 40_000
	killDataSize = 200
)

// snapshotWriterChild writes generation after generation of one snapshot, every node's data
// naming its generation, and prints each generation once its file is in place.
func snapshotWriterChild(file string) int {
	nodes := make([]zkmirror.SnapshotNode, killNodes)
	for gen := 1; ; gen++ {
		for i := range nodes {
			d := fmt.Appendf(nil, "gen-%d-node-%d-", gen, i)
			d = append(d, bytes.Repeat([]byte{'x'}, killDataSize-len(d))...)
			nodes[i] = zkmirror.SnapshotNode{Path: killPath(i), Data: d, Stat: zkmirror.Stat{Czxid: int64(i + 1), Mzxid: int64(gen), Version: int32(gen)}}
		}
		if err := zkmirror.WriteSnapshot(file, "", nodes); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("wrote %d\n", gen)
	}
}

func killPath(i int) string { return fmt.Sprintf("/kill/n%05d", i) }

func snapshotFile(t testing.TB) string {
	return filepath.Join(t.TempDir(), "mirror.snap")
}

func sameStat(a, b zkmirror.Stat) bool { return a == b }

// TestSnapshotRestoreBeforeServer: a Mirror writes what it holds; the next one, started
// with no server reachable, answers at once from the file, flagged Restored, then takes the
// server's state flagged Resync, changed or not.
func TestSnapshotRestoreBeforeServer(t *testing.T) {
	leaktest.Check(t)
	file := snapshotFile(t)
	p := uniquePath(t)
	raw := rawClient(t)
	mustCreate(t, raw, p, "root")
	mustCreate(t, raw, p+"/a", "one")
	mustCreate(t, raw, p+"/b", "same")

	// First run, with the server. The handles close before the Mirror, as deferred calls do.
	m1, err := zkmirror.Connect(zkc.Addrs(), zkmirror.WithSnapshotFile(file))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 20*time.Second)
	a1, b1, r1 := mustNode(t, m1, p+"/a"), mustNode(t, m1, p+"/b"), mustNode(t, m1, p)
	savedA, err := a1.Value(ctx)
	if err != nil {
		t.Fatal(err)
	}
	savedB, err := b1.Value(ctx)
	if err != nil {
		t.Fatal(err)
	}
	savedKids, err := r1.Children(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tr1, err := m1.Tree(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr1.Synced(ctx); err != nil {
		t.Fatal(err)
	}
	if savedA.Restored || savedB.Restored || savedKids.Restored {
		t.Fatal("a Mirror without a file restored something")
	}
	a1.Close()
	b1.Close()
	r1.Close()
	tr1.Close()
	m1.Close()
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatalf("no snapshot file after Close: %v", err)
	}
	if mode := fi.Mode(); mode != 0o600 {
		t.Fatalf("snapshot file mode %v, want 0600", mode)
	}

	if _, err := raw.Set(p+"/a", []byte("two"), -1); err != nil {
		t.Fatal(err)
	}

	// Second run: no server answers.
	proxy := newProxy(t, zkc.Addrs()[0])
	proxy.Blackhole(0)
	m2 := connectTo(t, []string{proxy.Addr()}, zkmirror.WithSnapshotFile(file), zkmirror.WithSessionTimeout(2*time.Second))
	a2, b2, r2 := mustNode(t, m2, p+"/a"), mustNode(t, m2, p+"/b"), mustNode(t, m2, p)
	v, err := a2.Value(ctxT(t, 100*time.Millisecond))
	if err != nil {
		t.Fatalf("restored Value: %v", err)
	}
	if !v.Restored || v.Resync || !v.Exists || string(v.Data) != "one" || !sameStat(v.Stat, savedA.Stat) || v.Path != p+"/a" {
		t.Fatalf("restored Value %+v, saved %+v", v, savedA)
	}
	c, err := r2.Children(ctxT(t, 100*time.Millisecond))
	if err != nil || !c.Restored || !slices.Equal(c.Names, []string{"a", "b"}) || !sameStat(c.Stat, savedKids.Stat) {
		t.Fatalf("restored Children %+v %v, saved %+v", c, err, savedKids)
	}
	wa := a2.Watch(ctxT(t, 30*time.Second))
	wb := b2.Watch(ctxT(t, 30*time.Second))
	if v := recv(t, wa, 5*time.Second); !v.Restored || string(v.Data) != "one" {
		t.Fatalf("first Watch snapshot %+v", v)
	}
	if v := recv(t, wb, 5*time.Second); !v.Restored || string(v.Data) != "same" {
		t.Fatalf("first Watch snapshot %+v", v)
	}
	tr2, err := m2.Tree(p)
	if err != nil {
		t.Fatal(err)
	}
	defer tr2.Close()
	if g, ok := tr2.Get(p + "/a"); !ok || !g.Restored || string(g.Data) != "one" {
		t.Fatalf("restored Tree.Get %+v %v", g, ok)
	}
	if kids, ok := tr2.Children(p); !ok || !slices.Equal(kids, []string{"a", "b"}) {
		t.Fatalf("restored Tree.Children %q %v", kids, ok)
	}
	if n := tr2.Len(); n != 3 {
		t.Fatalf("restored Tree.Len %d", n)
	}
	if err := tr2.Synced(ctxT(t, 300*time.Millisecond)); !errors.Is(err, zkmirror.ErrTimeout) {
		t.Fatalf("Tree.Synced before any server answered: %v", err)
	}
	if st := m2.State(); st != zkmirror.StateConnecting {
		t.Fatalf("state %v", st)
	}

	// The server answers: its state replaces the file's, flagged Resync, changed or not.
	proxy.Restore()
	if v := recv(t, wa, 20*time.Second); v.Restored || !v.Resync || string(v.Data) != "two" {
		t.Fatalf("changed node after the server answered: %+v", v)
	}
	if v := recv(t, wb, 20*time.Second); v.Restored || !v.Resync || string(v.Data) != "same" || !sameStat(v.Stat, savedB.Stat) {
		t.Fatalf("unchanged node after the server answered: %+v", v)
	}
	if err := tr2.Synced(ctxT(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	if g, ok := tr2.Get(p + "/a"); !ok || g.Restored || string(g.Data) != "two" {
		t.Fatalf("Tree.Get after sync %+v %v", g, ok)
	}
	if v, err := a2.Value(ctx); err != nil || v.Restored || string(v.Data) != "two" {
		t.Fatalf("Value after the server answered %+v %v", v, err)
	}
}

// TestSnapshotServerWins: the server's first read replaces the restored state even though
// the file's zxids are higher (another cluster's history, or an older backup), under a
// chroot.
func TestSnapshotServerWins(t *testing.T) {
	leaktest.Check(t)
	file := snapshotFile(t)
	root := uniquePath(t)
	raw := rawClient(t)
	mustCreate(t, raw, root, "")
	mustCreate(t, raw, root+"/x", "real")
	const high = 1 << 50
	hi := zkmirror.Stat{Czxid: high, Mzxid: high + 1, Pzxid: high + 2, Version: 99}
	if err := zkmirror.WriteSnapshot(file, root, []zkmirror.SnapshotNode{
		{Path: root + "/x", Data: []byte("from the file"), Names: []string{"ghost"}, Stat: hi},
	}); err != nil {
		t.Fatal(err)
	}
	proxy := newProxy(t, zkc.Addrs()[0])
	proxy.Blackhole(0)
	m := connectTo(t, []string{proxy.Addr()}, zkmirror.WithSnapshotFile(file), zkmirror.WithChroot(root), zkmirror.WithSessionTimeout(2*time.Second))
	n := mustNode(t, m, "/x")
	ctx := ctxT(t, 30*time.Second)
	w, wc := n.Watch(ctx), n.WatchChildren(ctx)
	if v := recv(t, w, 5*time.Second); !v.Restored || string(v.Data) != "from the file" || v.Stat != hi || v.Path != "/x" {
		t.Fatalf("restored %+v", v)
	}
	if c := recv(t, wc, 5*time.Second); !c.Restored || !slices.Equal(c.Names, []string{"ghost"}) {
		t.Fatalf("restored children %+v", c)
	}
	proxy.Restore()
	v := recv(t, w, 20*time.Second)
	if v.Restored || !v.Resync || string(v.Data) != "real" || v.Stat.Mzxid >= high {
		t.Fatalf("server's state %+v", v)
	}
	if c := recv(t, wc, 20*time.Second); c.Restored || !c.Resync || len(c.Names) != 0 || !c.Exists {
		t.Fatalf("server's children %+v", c)
	}
	// From then on, the usual rules.
	if _, err := raw.Set(root+"/x", []byte("later"), -1); err != nil {
		t.Fatal(err)
	}
	if v2 := recv(t, w, 20*time.Second); v2.Restored || v2.Resync || string(v2.Data) != "later" || v2.Stat.Mzxid <= v.Stat.Mzxid {
		t.Fatalf("next change %+v", v2)
	}
}

// TestSnapshotBadFilesIgnored: a file that cannot be used is ignored with one Warn and set
// aside, and nothing of it is applied; a good snapshot replaces it later.
func TestSnapshotBadFilesIgnored(t *testing.T) {
	leaktest.Check(t)
	good := func(t *testing.T, file, chroot string) []byte {
		nodes := []zkmirror.SnapshotNode{
			{Path: chroot + "/bad/a", Data: bytes.Repeat([]byte("a"), 500), Stat: zkmirror.Stat{Czxid: 5, Mzxid: 6}},
			{Path: chroot + "/bad/b", Data: []byte("b"), Stat: zkmirror.Stat{Czxid: 7, Mzxid: 8}},
		}
		if err := zkmirror.WriteSnapshot(file, chroot, nodes); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name string
		make func(t *testing.T, file string) []byte
	}{
		{"corrupt", func(t *testing.T, file string) []byte {
			b := good(t, file, "")
			b[len(b)-100] ^= 1
			return b
		}},
		{"truncated", func(t *testing.T, file string) []byte { return good(t, file, "")[:300] }},
		{"future version", func(t *testing.T, file string) []byte {
			b := good(t, file, "")
			binary.LittleEndian.PutUint32(b[8:], 2) // the format version follows the 8-byte magic
			return b
		}},
		{"foreign chroot", func(t *testing.T, file string) []byte { return good(t, file, "/elsewhere") }},
		{"not a snapshot", func(t *testing.T, file string) []byte { return []byte("{\"a\": 1}\n") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := snapshotFile(t)
			b := c.make(t, file)
			if err := os.WriteFile(file, b, 0o600); err != nil {
				t.Fatal(err)
			}
			var logs lockedBuffer
			m := connectTo(t, []string{deadPort(t)}, zkmirror.WithSnapshotFile(file), zkmirror.WithLogger(newLogger(&logs)), zkmirror.WithSessionTimeout(2*time.Second))
			for _, p := range []string{"/bad/a", "/bad/b", "/elsewhere/bad/a"} {
				if v, err := mustNode(t, m, p).Value(ctxT(t, 200*time.Millisecond)); !errors.Is(err, zkmirror.ErrTimeout) || v.Restored {
					t.Fatalf("%s from a bad file: %+v %v", p, v, err)
				}
			}
			m.Close()
			if warns := strings.Count(logs.String(), "level=WARN"); warns != 1 || !strings.Contains(logs.String(), "snapshot file ignored") {
				t.Fatalf("want one Warn about the ignored file, got:\n%s", logs.String())
			}
			if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the bad file is still in place: %v", err)
			}
			if kept, err := os.ReadFile(file + ".bad"); err != nil || !bytes.Equal(kept, b) {
				t.Fatalf("the bad file was not kept aside as it was: %v", err)
			}
		})
	}

	// A good snapshot replaces the bad file; the one set aside stays.
	file := snapshotFile(t)
	if err := os.WriteFile(file, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := uniquePath(t)
	raw := rawClient(t)
	mustCreate(t, raw, p, "fresh")
	m := connect(t, zkmirror.WithSnapshotFile(file))
	if _, err := mustNode(t, m, p).Value(ctxT(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	m.Close()
	m2 := connectTo(t, []string{deadPort(t)}, zkmirror.WithSnapshotFile(file))
	if v, err := mustNode(t, m2, p).Value(ctxT(t, 100*time.Millisecond)); err != nil || !v.Restored || string(v.Data) != "fresh" {
		t.Fatalf("the good snapshot: %+v %v", v, err)
	}
	if kept, err := os.ReadFile(file + ".bad"); err != nil || string(kept) != "garbage" {
		t.Fatalf("the bad file set aside: %q %v", kept, err)
	}
}

// TestSnapshotKillDuringWrite: a process killed (SIGKILL) while it writes snapshots leaves
// a file that loads whole: the last one it finished or the one it was writing, never a mix.
func TestSnapshotKillDuringWrite(t *testing.T) {
	leaktest.Check(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	file := snapshotFile(t)
	midWrites := 0
	for round := range 4 {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), snapWriterEnv+"="+file)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		want := 2 + round // generations written before the kill
		last := 0
		for last < want && lines.Scan() {
			last, _ = strconv.Atoi(strings.TrimPrefix(lines.Text(), "wrote "))
		}
		if last < want {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: the writer stopped after generation %d", round, last)
		}
		// Kill it while it writes the next generation: once its temporary file exists, and
		// a little later in some rounds (the write, the fsync, the rename).
		deadline := time.Now().Add(20 * time.Second)
		for {
			if tmps, _ := filepath.Glob(file + ".*.tmp"); len(tmps) > 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Microsecond)
		}
		time.Sleep(time.Duration(rand.IntN(round+1)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for lines.Scan() {
			if n, err := strconv.Atoi(strings.TrimPrefix(lines.Text(), "wrote ")); err == nil {
				last = n
			}
		}
		if err := cmd.Wait(); err == nil {
			t.Fatalf("round %d: the writer was not killed", round)
		}
		tmps, _ := filepath.Glob(file + ".*.tmp")
		midWrite := len(tmps) > 0 // killed between creating the temporary file and renaming it
		if midWrite {
			midWrites++
		}

		var logs lockedBuffer
		m := connectTo(t, []string{deadPort(t)}, zkmirror.WithSnapshotFile(file), zkmirror.WithLogger(newLogger(&logs)))
		var gens []int
		for _, i := range []int{0, killNodes / 2, killNodes - 1} {
			v, err := mustNode(t, m, killPath(i)).Value(ctxT(t, 5*time.Second))
			if err != nil || !v.Restored || len(v.Data) != killDataSize {
				t.Fatalf("round %d: node %d after the kill: %+v %v\n%s", round, i, v, err, logs.String())
			}
			var gen, node int
			if _, err := fmt.Sscanf(string(v.Data), "gen-%d-node-%d-", &gen, &node); err != nil || node != i {
				t.Fatalf("round %d: node %d holds %q", round, i, v.Data)
			}
			gens = append(gens, gen)
		}
		if gens[0] != gens[1] || gens[1] != gens[2] || gens[0] < last || gens[0] > last+1 {
			t.Fatalf("round %d: generations %v after the writer reported %d", round, gens, last)
		}
		m.Close()
		if strings.Contains(logs.String(), "level=WARN") {
			t.Fatalf("round %d: %s", round, logs.String())
		}
		t.Logf("round %d: killed after generation %d (a write under way: %v); the file holds generation %d", round, last, midWrite, gens[0])
	}
	if midWrites == 0 {
		t.Fatal("no kill landed during a write")
	}
}

// TestSnapshotUnwritable: a file that cannot be written is logged and retried, and the
// mirror goes on meanwhile; once the directory is usable the file appears.
func TestSnapshotUnwritable(t *testing.T) {
	leaktest.Check(t)
	dir := t.TempDir()
	blocker := filepath.Join(dir, "sub")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil { // a file where the directory should be
		t.Fatal(err)
	}
	file := filepath.Join(blocker, "mirror.snap")
	p := uniquePath(t)
	raw := rawClient(t)
	mustCreate(t, raw, p, "v0")
	var logs lockedBuffer
	m := connect(t, zkmirror.WithSnapshotFile(file), zkmirror.WithLogger(newLogger(&logs)))
	n := mustNode(t, m, p)
	w := n.Watch(ctxT(t, 60*time.Second))
	if v := recv(t, w, 20*time.Second); string(v.Data) != "v0" {
		t.Fatalf("%+v", v)
	}
	waitLog := func(what string, times int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for strings.Count(logs.String(), what) < times {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log:\n%s", what, logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitLog("snapshot file not written; retrying", 1)
	// The mirror goes on: changes arrive while writes fail and are retried.
	for i := 1; i <= 3; i++ {
		d := "v" + strconv.Itoa(i)
		if _, err := raw.Set(p, []byte(d), -1); err != nil {
			t.Fatal(err)
		}
		if v := recv(t, w, 20*time.Second); string(v.Data) != d {
			t.Fatalf("change %d: %+v", i, v)
		}
	}
	waitLog("snapshot file not written; retrying", 2) // retried
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(blocker, 0o700); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(file); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the file was never written once the directory existed:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitLog("snapshot file written again", 1)
	m.Close()
	m2 := connectTo(t, []string{deadPort(t)}, zkmirror.WithSnapshotFile(file))
	if v, err := mustNode(t, m2, p).Value(ctxT(t, 100*time.Millisecond)); err != nil || !v.Restored || string(v.Data) != "v3" {
		t.Fatalf("restored after the retries: %+v %v", v, err)
	}
}

// TestSnapshotUnheldPathsDropped: the file's paths that nobody holds by the first session
// are not written back; the held ones are, with the server's state.
func TestSnapshotUnheldPathsDropped(t *testing.T) {
	leaktest.Check(t)
	file := snapshotFile(t)
	p := uniquePath(t)
	raw := rawClient(t)
	mustCreate(t, raw, p, "")
	mustCreate(t, raw, p+"/held", "server")
	if err := zkmirror.WriteSnapshot(file, "", []zkmirror.SnapshotNode{
		{Path: p + "/held", Data: []byte("file"), Stat: zkmirror.Stat{Czxid: 1, Mzxid: 1}},
		{Path: p + "/unheld", Data: []byte("file"), Stat: zkmirror.Stat{Czxid: 1, Mzxid: 1}},
	}); err != nil {
		t.Fatal(err)
	}
	// Without a server, nothing is dropped: a Mirror that never connected writes back
	// what it loaded.
	m0 := connectTo(t, []string{deadPort(t)}, zkmirror.WithSnapshotFile(file))
	if v, err := mustNode(t, m0, p+"/held").Value(ctxT(t, 100*time.Millisecond)); err != nil || !v.Restored {
		t.Fatalf("%+v %v", v, err)
	}
	m0.Close()

	m := connect(t, zkmirror.WithSnapshotFile(file))
	w := mustNode(t, m, p+"/held").Watch(ctxT(t, 30*time.Second))
	for v := range w {
		if !v.Restored && string(v.Data) == "server" {
			break
		}
	}
	m.Close()

	m2 := connectTo(t, []string{deadPort(t)}, zkmirror.WithSnapshotFile(file))
	if v, err := mustNode(t, m2, p+"/held").Value(ctxT(t, 100*time.Millisecond)); err != nil || !v.Restored || string(v.Data) != "server" {
		t.Fatalf("held path: %+v %v", v, err)
	}
	if v, err := mustNode(t, m2, p+"/unheld").Value(ctxT(t, 200*time.Millisecond)); !errors.Is(err, zkmirror.ErrTimeout) {
		t.Fatalf("unheld path still in the file: %+v %v", v, err)
	}
}

// TestSnapshotWritesDebounced: a storm of changes costs at most one write a second.
func TestSnapshotWritesDebounced(t *testing.T) {
	leaktest.Check(t)
	file := snapshotFile(t)
	p := uniquePath(t)
	raw := rawClient(t)
	mustCreate(t, raw, p, "0")
	m := connect(t, zkmirror.WithSnapshotFile(file))
	n := mustNode(t, m, p)
	w := n.Watch(ctxT(t, 60*time.Second))
	recv(t, w, 20*time.Second)
	writes0 := zkmirror.SnapshotWrites(m)
	start := time.Now()
	sets := 0
	for time.Since(start) < 2500*time.Millisecond {
		sets++
		if _, err := raw.Set(p, []byte(strconv.Itoa(sets)), -1); err != nil {
			t.Fatal(err)
		}
	}
	for v := range w {
		if string(v.Data) == strconv.Itoa(sets) {
			break
		}
	}
	writes := zkmirror.SnapshotWrites(m) - writes0
	elapsed := time.Since(start)
	if limit := int64(elapsed/time.Second) + 1; writes < 1 || writes > limit {
		t.Fatalf("%d writes for %d changes in %v; want 1 to %d", writes, sets, elapsed, limit)
	}
	t.Logf("%d writes for %d changes in %v", writes, sets, elapsed)
}

// TestSnapshotTreeAfterRestore: a Tree restored from the file turns the server's first
// answers into events for the real differences only — a node whose data differs at the
// same zxids included — and is synced only then.
func TestSnapshotTreeAfterRestore(t *testing.T) {
	leaktest.Check(t)
	file := snapshotFile(t)
	p := uniquePath(t)
	raw := rawClient(t)
	mustCreate(t, raw, p, "root")
	for _, c := range []string{"a", "b", "d"} {
		mustCreate(t, raw, p+"/"+c, c)
	}
	stat := func(path string) zkmirror.Stat {
		_, s, err := raw.Get(path)
		if err != nil {
			t.Fatal(err)
		}
		return zkmirror.Stat{Czxid: s.Czxid, Mzxid: s.Mzxid, Pzxid: s.Pzxid, Ctime: s.Ctime, Mtime: s.Mtime,
			EphemeralOwner: s.EphemeralOwner, Version: s.Version, Cversion: s.Cversion, Aversion: s.Aversion,
			DataLength: s.DataLength, NumChildren: s.NumChildren}
	}
	if err := zkmirror.WriteSnapshot(file, "", []zkmirror.SnapshotNode{
		{Path: p, Data: []byte("root"), Names: []string{"a", "b", "c"}, Stat: stat(p)},
		{Path: p + "/a", Data: []byte("a"), Stat: stat(p + "/a")},
		{Path: p + "/b", Data: []byte("other history"), Stat: stat(p + "/b")},        // same zxids, other data
		{Path: p + "/c", Data: []byte("c"), Stat: zkmirror.Stat{Czxid: 1, Mzxid: 1}}, // gone from the server
	}); err != nil {
		t.Fatal(err)
	}
	proxy := newProxy(t, zkc.Addrs()[0])
	proxy.Blackhole(0)
	m := connectTo(t, []string{proxy.Addr()}, zkmirror.WithSnapshotFile(file), zkmirror.WithSessionTimeout(2*time.Second))
	tr, err := m.Tree(p)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	events := tr.Events(ctxT(t, 30*time.Second))
	if v, ok := tr.Get(p + "/c"); !ok || !v.Restored {
		t.Fatalf("restored c: %+v %v", v, ok)
	}
	if _, ok := tr.Get(p + "/d"); ok {
		t.Fatal("d is not in the file")
	}
	proxy.Restore()
	if err := tr.Synced(ctxT(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Set(p+"/d", []byte("end"), -1); err != nil {
		t.Fatal(err)
	}
	got := map[string]zkmirror.TreeEvent{}
	for {
		ev := recv(t, events, 20*time.Second)
		if _, dup := got[ev.Path]; dup && ev.Path != p+"/d" {
			t.Fatalf("two events for %s: %+v and %+v", ev.Path, got[ev.Path], ev)
		}
		got[ev.Path] = ev
		if ev.Path == p+"/d" && string(ev.Value.Data) == "end" {
			break
		}
	}
	if ev, ok := got[p+"/b"]; !ok || ev.Type != zkmirror.EventChanged || string(ev.Value.Data) != "b" || ev.Value.Restored || !ev.Resync {
		t.Errorf("b: %+v %v", ev, ok)
	}
	if ev, ok := got[p+"/c"]; !ok || ev.Type != zkmirror.EventDeleted {
		t.Errorf("c: %+v %v", ev, ok)
	}
	if ev, ok := got[p+"/d"]; !ok || (ev.Type != zkmirror.EventCreated && ev.Type != zkmirror.EventChanged) {
		t.Errorf("d: %+v %v", ev, ok)
	}
	for _, q := range []string{p, p + "/a"} {
		if ev, ok := got[q]; ok {
			t.Errorf("event for unchanged %s: %+v", q, ev)
		}
	}
	if kids, ok := tr.Children(p); !ok || !slices.Equal(kids, []string{"a", "b", "d"}) {
		t.Errorf("children %q", kids)
	}
	for _, q := range []string{p, p + "/a", p + "/b", p + "/d"} {
		if v, ok := tr.Get(q); !ok || v.Restored {
			t.Errorf("%s after sync: %+v %v", q, v, ok)
		}
	}
}
