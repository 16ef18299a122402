package zkmirror_test

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/internal/zktest"
	"github.com/zkmirror/zkmirror/leaktest"
)

// Contract 4: a cluster rebuilt from empty data starts a new history. The servers refuse the
// mirror's handshake (it has seen a newer zxid) until the session forgets its zxid; the new
// session's resync is authoritative although its zxids are lower; afterwards every Node and
// Tree equals what a fresh client reads, later changes are seen, and the mirror has said once
// that the history went back.
func TestRebuiltClusterStandalone(t *testing.T) { testRebuiltCluster(t, 1) }

func TestRebuiltClusterEnsemble(t *testing.T) { testRebuiltCluster(t, 3) }

func testRebuiltCluster(t *testing.T, members int) {
	leaktest.Check(t)
	var (
		c   *zktest.Cluster
		err error
	)
	if members == 1 {
		c, err = zktest.StartStandalone(zktest.Options{})
	} else {
		c, err = zktest.StartEnsemble(members, zktest.Options{})
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	old, closeOld := rawConnTo(t, c.Addrs())
	// The old history runs well ahead of the rebuilt one: its nodes' zxids are higher than
	// those of the nodes that replace them.
	if _, err := old.Create("/pad", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if _, err := old.Set("/pad", []byte{byte(i)}, -1); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []struct{ path, data string }{{"/w", ""}, {"/w/a", "old-a"}, {"/w/gone", "g"}} {
		if _, err := old.Create(n.path, []byte(n.data), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	closeOld()

	var logs lockedBuffer
	const timeout = 2 * time.Second
	m := connectTo(t, c.Addrs(), zkmirror.WithSessionTimeout(timeout), zkmirror.WithLogger(newLogger(&logs)))
	a := mustNode(t, m, "/w/a")
	ctx := ctxT(t, 90*time.Second)
	if v, err := a.Value(ctx); err != nil || string(v.Data) != "old-a" {
		t.Fatalf("before: %q %v", v.Data, err)
	}
	tree, err := m.Tree("/w")
	if err != nil {
		t.Fatal(err)
	}
	defer tree.Close()
	if err := tree.Synced(ctx); err != nil {
		t.Fatal(err)
	}

	// The rebuild: every server stopped, emptied and started again; another client rebuilds.
	for _, s := range c.Servers {
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range c.Servers {
		if err := s.Wipe(); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range c.Servers {
		if err := s.Launch(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitServing(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	fresh, closeFresh := rawConnTo(t, c.Addrs())
	defer closeFresh()
	for _, n := range []struct{ path, data string }{{"/w", ""}, {"/w/a", "new-a"}, {"/w/b", "b"}} {
		if _, err := fresh.Create(n.path, []byte(n.data), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}

	// Within a few session timeouts the mirror is on the new history.
	equal := func() error {
		for _, path := range []string{"/w", "/w/a", "/w/b"} {
			data, st, err := fresh.Get(path)
			if err != nil {
				return err
			}
			got, ok := tree.Get(path)
			if !ok || string(got.Data) != string(data) || got.Stat.Czxid != st.Czxid || got.Stat.Mzxid != st.Mzxid {
				return errors.New("tree " + path + ": " + string(got.Data))
			}
			if path == "/w/a" {
				v, err := a.Value(ctx)
				if err != nil || string(v.Data) != string(data) || v.Stat.Czxid != st.Czxid {
					return errors.New("node /w/a: " + string(v.Data))
				}
			}
		}
		if _, ok := tree.Get("/w/gone"); ok {
			return errors.New("/w/gone still in the tree")
		}
		kids, _ := tree.Children("/w")
		if strings.Join(kids, ",") != "a,b" {
			return errors.New("tree children of /w: " + strings.Join(kids, ","))
		}
		return nil
	}
	waitUntil(t, 20*timeout, equal)

	// Later changes are seen.
	if _, err := fresh.Set("/w/a", []byte("later"), -1); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, func() error {
		if v, _ := a.Value(ctx); string(v.Data) != "later" {
			return errors.New("node: " + string(v.Data))
		}
		if v, _ := tree.Get("/w/a"); string(v.Data) != "later" {
			return errors.New("tree: " + string(v.Data))
		}
		return nil
	})
	if n := strings.Count(logs.String(), "history went back"); n != 1 {
		t.Fatalf("%d log lines say the history went back, want 1:\n%s", n, grepLines(logs.String(), "WARN"))
	}
}

// rawConnTo is a go-zookeeper client of the test's own; its close function closes it and
// waits for its event channel to close.
func rawConnTo(t *testing.T, addrs []string) (*zk.Conn, func()) {
	t.Helper()
	conn, events, err := zk.Connect(addrs, 5*time.Second, zk.WithLogger(nopLogger{}), zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range events {
		}
	}()
	closeConn := func() {
		conn.Close()
		<-done
	}
	deadline := time.Now().Add(30 * time.Second)
	for conn.State() != zk.StateHasSession {
		if time.Now().After(deadline) {
			closeConn()
			t.Fatal("raw client: no session")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return conn, closeConn
}

// waitUntil polls check until it returns nil, or fails with its last error after d.
func waitUntil(t *testing.T, d time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %v", d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestRestoredFromOlderBackup: the server is restored from a backup taken while the mirror's
// session was alive, so the restored server knows that session but not what the mirror saw
// after the backup. It refuses the handshake (the mirror has seen a newer zxid); the session
// then starts afresh rather than taking back the old one, and the resync brings the mirror
// back to the restored history.
func TestRestoredFromOlderBackup(t *testing.T) {
	leaktest.Check(t)
	c, err := zktest.StartStandalone(zktest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := c.Servers[0]
	raw, closeRaw := rawConnTo(t, c.Addrs())
	for _, n := range []struct{ path, data string }{{"/r", ""}, {"/r/a", "at-backup"}} {
		if _, err := raw.Create(n.path, []byte(n.data), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	closeRaw()

	var logs lockedBuffer
	m := connectTo(t, c.Addrs(), zkmirror.WithSessionTimeout(2*time.Second), zkmirror.WithLogger(newLogger(&logs)))
	a := mustNode(t, m, "/r/a")
	ctx := ctxT(t, 90*time.Second)
	tree, err := m.Tree("/r")
	if err != nil {
		t.Fatal(err)
	}
	defer tree.Close()
	if err := tree.Synced(ctx); err != nil {
		t.Fatal(err)
	}

	// The backup, taken with the mirror's session alive.
	backup := filepath.Join(t.TempDir(), "backup")
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Backup(backup); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	// Life goes on after the backup, and the mirror sees it.
	raw, closeRaw = rawConnTo(t, c.Addrs())
	if _, err := raw.Create("/r/b", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if _, err := raw.Set("/r/a", []byte("after-backup-"+strconv.Itoa(i)), -1); err != nil {
			t.Fatal(err)
		}
	}
	closeRaw()
	waitUntil(t, 20*time.Second, func() error {
		if v, _ := a.Value(ctx); string(v.Data) != "after-backup-49" {
			return errors.New("node: " + string(v.Data))
		}
		if _, ok := tree.Get("/r/b"); !ok {
			return errors.New("no /r/b in the tree")
		}
		return nil
	})

	// The restore.
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Restore(backup); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	fresh, closeFresh := rawConnTo(t, c.Addrs())
	defer closeFresh()
	waitUntil(t, 40*time.Second, func() error {
		data, st, err := fresh.Get("/r/a")
		if err != nil {
			return err
		}
		if v, err := a.Value(ctx); err != nil || string(v.Data) != string(data) || v.Stat.Mzxid != st.Mzxid {
			return errors.New("node: " + string(v.Data) + ", server: " + string(data))
		}
		if got, _ := tree.Get("/r/a"); string(got.Data) != string(data) {
			return errors.New("tree: " + string(got.Data))
		}
		if _, ok := tree.Get("/r/b"); ok {
			return errors.New("/r/b, made after the backup, still in the tree")
		}
		return nil
	})
	if _, err := fresh.Set("/r/a", []byte("later"), -1); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, func() error {
		if v, _ := a.Value(ctx); string(v.Data) != "later" {
			return errors.New("node: " + string(v.Data))
		}
		return nil
	})
	if !strings.Contains(logs.String(), "starting a new session") {
		t.Fatalf("no log line says the session started afresh:\n%s", grepLines(logs.String(), "WARN"))
	}
}
