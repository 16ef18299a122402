package zktest_test

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkmirror/zkmirror/internal/zktest"
	"github.com/zkmirror/zkmirror/leaktest"
)

func TestInstalled(t *testing.T) {
	leaktest.Check(t)
	if err := zktest.Installed(); err != nil {
		t.Fatalf("Installed: %v", err)
	}
	t.Setenv("JAVA_HOME", filepath.Join(t.TempDir(), "no-java"))
	err := zktest.Installed()
	if !errors.Is(err, zktest.ErrNotInstalled) {
		t.Fatalf("Installed without java: err = %v, want ErrNotInstalled", err)
	}
	if !strings.Contains(err.Error(), "make zk") {
		t.Errorf("Installed without java: %q does not say to run make zk", err)
	}
	if _, err := zktest.StartStandalone(zktest.Options{}); !errors.Is(err, zktest.ErrNotInstalled) {
		t.Errorf("StartStandalone without java: err = %v, want ErrNotInstalled", err)
	}
}

// TestMainWithoutZooKeeper runs this test binary again without java: its
// TestMain, zktest.Main, must fail the run and say how to install it.
func TestMainWithoutZooKeeper(t *testing.T) {
	leaktest.Check(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "JAVA_HOME="+filepath.Join(t.TempDir(), "no-java"))
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("test binary without java: err = %v, want exit status 1; output:\n%s", err, out)
	}
	if !strings.Contains(string(out), "make zk") {
		t.Errorf("test binary without java does not say to run make zk; output:\n%s", out)
	}
}

func TestStandaloneSrvr(t *testing.T) {
	leaktest.Check(t)
	s, err := shared.Leader()
	if err != nil {
		t.Fatal(err)
	}
	if s != shared.Servers[0] || s.ID != 1 || s.Addr() != shared.Addrs()[0] {
		t.Fatalf("Leader = server %d at %s, want the only server", s.ID, s.Addr())
	}
	if got := s.Mode(); got != "standalone" {
		t.Fatalf("Mode = %q, want standalone", got)
	}
	if fs := shared.Followers(); len(fs) != 0 {
		t.Errorf("Followers = %d servers, want none", len(fs))
	}
	if out, err := s.FourLetter("ruok"); err != nil || out != "imok" {
		t.Errorf("ruok = %q, %v; want imok", out, err)
	}
	// A JVM that started and answers has used CPU time.
	if cpu, err := s.CPUTime(); err != nil || cpu <= 0 {
		t.Errorf("CPUTime = %v, %v; want a positive time", cpu, err)
	}

	before, err := s.Srvr()
	if err != nil {
		t.Fatal(err)
	}
	if before.Mode != "standalone" || !strings.HasPrefix(before.Version, "3.") || before.NodeCount < 4 || before.Connections < 1 {
		t.Errorf("Srvr = %+v: want a standalone 3.x server with the built-in nodes and this connection", before)
	}

	conn, events := connect(t, s.Addr())
	waitState(t, events, zk.StateHasSession, 10*time.Second)
	if _, err := conn.Create("/srvr", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	defer conn.Delete("/srvr", -1)

	after, err := s.Srvr()
	if err != nil {
		t.Fatal(err)
	}
	if after.Zxid <= before.Zxid || after.NodeCount != before.NodeCount+1 || after.Received <= before.Received {
		t.Errorf("after a create, Srvr = %+v; before it was %+v", after, before)
	}
}

func TestWatchCount(t *testing.T) {
	leaktest.Check(t)
	s := shared.Servers[0]
	before, err := s.WatchCount()
	if err != nil {
		t.Fatal(err)
	}

	conn, events := connect(t, s.Addr())
	waitState(t, events, zk.StateHasSession, 10*time.Second)
	if _, err := conn.Create("/watched", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	_, _, watch, err := conn.GetW("/watched")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.WatchCount(); err != nil || n != before+1 {
		t.Fatalf("WatchCount with a watch = %d, %v; want %d", n, err, before+1)
	}

	if err := conn.Delete("/watched", -1); err != nil {
		t.Fatal(err)
	}
	if ev := <-watch; ev.Type != zk.EventNodeDeleted {
		t.Errorf("watch fired %v, want EventNodeDeleted", ev.Type)
	}
	if n, err := s.WatchCount(); err != nil || n != before {
		t.Errorf("WatchCount after it fired = %d, %v; want %d", n, err, before)
	}
}

func TestServerLifecycle(t *testing.T) {
	leaktest.Check(t)
	c, err := zktest.StartStandalone(zktest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
		if err := c.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if _, err := os.Stat(c.Servers[0].Dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("server directory survives Close: %v", err)
		}
	}()
	s := c.Servers[0]
	if err := s.Start(); err == nil {
		t.Error("Start of a running server succeeded")
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "zookeeper.log")); err != nil {
		t.Errorf("server log: %v", err)
	}

	conn, events := connect(t, s.Addr())
	waitState(t, events, zk.StateHasSession, 10*time.Second)
	if _, err := conn.Create("/kept", []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	ttl, err := conn.CreateTTL("/ttl", nil, zk.FlagTTL, zk.WorldACL(zk.PermAll), time.Minute)
	if err != nil || ttl != "/ttl" {
		t.Fatalf("CreateTTL = %q, %v: TTL nodes are not enabled", ttl, err)
	}

	restartKeepsData := func(name string, down func() error) {
		t.Helper()
		if err := down(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s.Running() || s.Mode() != "" {
			t.Fatalf("after %s: Running = %v, Mode = %q", name, s.Running(), s.Mode())
		}
		if _, err := s.Srvr(); err == nil {
			t.Fatalf("after %s: srvr answered", name)
		}
		if err := down(); err != nil {
			t.Errorf("%s of a stopped server: %v", name, err)
		}
		start := time.Now()
		if err := s.Start(); err != nil {
			t.Fatalf("Start after %s: %v", name, err)
		}
		t.Logf("restart after %s served in %v", name, time.Since(start).Round(time.Millisecond))
		if !s.Running() || s.Mode() != "standalone" {
			t.Fatalf("after Start: Running = %v, Mode = %q", s.Running(), s.Mode())
		}
		eventually(t, 10*time.Second, func() error {
			data, _, err := conn.Get("/kept")
			if err == nil && string(data) != "v" {
				t.Fatalf("after %s: /kept = %q, want v", name, data)
			}
			return err
		})
	}
	restartKeepsData("Stop", s.Stop)
	restartKeepsData("Kill", s.Kill)

	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	if !s.Running() || !s.Paused() || s.Mode() != "" {
		t.Fatalf("paused: Running = %v, Paused = %v, Mode = %q", s.Running(), s.Paused(), s.Mode())
	}
	if out, err := s.FourLetter("ruok"); err == nil {
		t.Fatalf("paused server answered ruok: %q", out)
	}
	if err := c.WaitServing(200 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "1=paused") {
		t.Errorf("WaitServing with the only server paused: err = %v, want a timeout naming it paused", err)
	}
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	if s.Paused() {
		t.Error("Paused after Resume")
	}
	if err := s.WaitServing(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, _, err := conn.Get("/kept"); err != nil {
		t.Errorf("Get after Resume: %v", err)
	}

	// A paused server still stops: Stop lets it act on SIGTERM.
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Stop of a paused server took %v", d)
	}
	if s.Running() {
		t.Error("Running after Stop")
	}

	// A server that cannot bind its port fails to start, and says why.
	l, err := net.Listen("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err = s.Start()
	if err == nil {
		t.Fatal("Start succeeded with the client port taken")
	}
	if !strings.Contains(err.Error(), "zookeeper.log") || !strings.Contains(err.Error(), "in use") {
		t.Errorf("Start with the client port taken: error does not quote the log: %v", err)
	}
	if s.Running() {
		t.Error("Running after a failed Start")
	}
}

func TestEnsemble(t *testing.T) {
	leaktest.Check(t)
	start := time.Now()
	c, err := zktest.StartEnsemble(3, zktest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	}()
	t.Logf("ensemble served in %v", time.Since(start).Round(time.Millisecond))

	leader, err := c.Leader()
	if err != nil {
		t.Fatal(err)
	}
	if fs := c.Followers(); len(fs) != 2 {
		t.Fatalf("Followers = %d servers, want 2", len(fs))
	}
	for _, s := range c.Servers {
		if s.PeerPort == 0 || s.ElectionPort == 0 {
			t.Errorf("server %d has no quorum ports", s.ID)
		}
	}

	conn, events := connect(t, c.Addrs()...)
	waitState(t, events, zk.StateHasSession, 10*time.Second)
	if _, err := conn.Create("/ensemble", []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}

	if err := leader.Kill(); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := c.WaitServing(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("new leader elected in %v", time.Since(start).Round(time.Millisecond))
	next, err := c.Leader()
	if err != nil {
		t.Fatal(err)
	}
	if next == leader {
		t.Fatalf("killed server %d is still leader", leader.ID)
	}
	if fs := c.Followers(); len(fs) != 1 {
		t.Errorf("Followers with one member down = %d servers, want 1", len(fs))
	}
	eventually(t, 15*time.Second, func() error {
		_, _, err := conn.Get("/ensemble")
		return err
	})

	start = time.Now()
	if err := leader.Start(); err != nil {
		t.Fatal(err)
	}
	t.Logf("old leader rejoined in %v", time.Since(start).Round(time.Millisecond))
	if m := leader.Mode(); m != "follower" {
		t.Errorf("restarted server %d is %q, want follower", leader.ID, m)
	}
	if err := c.WaitServing(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if fs := c.Followers(); len(fs) != 2 {
		t.Errorf("Followers after the restart = %d servers, want 2", len(fs))
	}
}

func TestParseProcStatCPU(t *testing.T) {
	leaktest.Check(t)
	for _, tc := range []struct {
		line string
		want time.Duration
		ok   bool
	}{
		// utime 250 and stime 130 ticks; the children's times (7, 9) that follow are not counted.
		{"4242 (java) S 1 4242 4242 0 -1 4194560 90 0 0 0 250 130 7 9 20 0 40 0 100 0 0", 3800 * time.Millisecond, true},
		// The command may hold spaces and parentheses; fields count from the last ')'.
		{"7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 1 0 0", 30 * time.Millisecond, true},
		{"4242 (java) S 1 4242", 0, false},
		{"no parenthesis", 0, false},
		{"4242 (java) S 1 4242 4242 0 -1 4194560 90 0 0 0 x 130 0", 0, false},
	} {
		got, err := zktest.ParseProcStatCPU([]byte(tc.line))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseProcStatCPU(%q) = %v, %v; want %v, ok %v", tc.line, got, err, tc.want, tc.ok)
		}
	}
}
