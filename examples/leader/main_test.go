package main

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zkmirror/zkmirror/internal/progtest"
	"github.com/zkmirror/zkmirror/internal/zktest"
	"github.com/zkmirror/zkmirror/leaktest"
)

var zkc *zktest.Cluster

func TestMain(m *testing.M) {
	zktest.Main(m, zktest.Options{}, func(c *zktest.Cluster) { zkc = c })
}

const wait = 15 * time.Second

func start(t *testing.T, out *progtest.Output, args ...string) func() error {
	args = append([]string{"-servers", strings.Join(zkc.Addrs(), ",")}, args...)
	return progtest.Start(t, func(ctx context.Context) error { return run(ctx, args, out) })
}

func TestElection(t *testing.T) {
	leaktest.Check(t)
	p := progtest.UniquePath(t) + "/election"
	raw := progtest.RawClient(t, zkc.Addrs())

	var watcher, alice, bob progtest.Output
	stopWatcher := start(t, &watcher, "-path", p)
	watcher.Expect(t, "leader: none", wait) // the election node does not exist yet

	stopAlice := start(t, &alice, "-path", p, "-join", "-id", "alice")
	alice.Expect(t, "joined as n_", wait)
	alice.Expect(t, "leader: alice (n_", wait)
	alice.Expect(t, "I am the leader", wait)
	watcher.Expect(t, "leader: alice (n_", wait)

	stopBob := start(t, &bob, "-path", p, "-join", "-id", "bob")
	bob.Expect(t, "joined as n_", wait)
	bob.Expect(t, "leader: alice (n_", wait)
	watcher.Expect(t, "), 2 candidates", wait)

	// Bob's node is deleted behind his back: he joins again, still not leading.
	kids, _, err := raw.Children(p)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(kids)
	var bobs string
	for _, k := range kids {
		data, _, err := raw.Get(p + "/" + k)
		if err != nil {
			t.Fatal(err)
		}
		if string(data) == "bob" {
			bobs = k
		}
	}
	if bobs == "" {
		t.Fatalf("no candidate node holds bob: %v", kids)
	}
	if err := raw.Delete(p+"/"+bobs, -1); err != nil {
		t.Fatal(err)
	}
	bob.Expect(t, "is gone; joining again", wait)
	bob.Expect(t, "joined as n_", wait)
	watcher.Expect(t, "), 2 candidates", wait)

	// Alice leaves: Bob leads at once (she deletes her node on the way out).
	if err := stopAlice(); err != nil {
		t.Fatalf("alice: %v", err)
	}
	bob.Expect(t, "leader: bob (n_", wait)
	bob.Expect(t, "I am the leader", wait)
	if line := watcher.Expect(t, "leader: bob (n_", wait); !strings.HasSuffix(line, "), 1 candidate") {
		t.Errorf("watcher: %q, want 1 candidate", line)
	}

	if err := stopBob(); err != nil {
		t.Fatalf("bob: %v", err)
	}
	watcher.Expect(t, "leader: none", wait)
	if err := stopWatcher(); err != nil {
		t.Fatalf("watcher: %v", err)
	}
	if strings.Contains(bob.String(), "no longer") || strings.Contains(alice.String(), "no longer") {
		t.Errorf("a leader lost its lead while it ran:\nalice:\n%s\nbob:\n%s", alice.String(), bob.String())
	}
}

func TestCandidates(t *testing.T) {
	got := candidates([]string{
		"n_0000000010",
		"_c_0123456789abcdef0123456789abcdef-n_0000000002",
		"lock",
		"n_12",
		"_c_ffff-n_0000000007",
	})
	want := []string{"_c_0123456789abcdef0123456789abcdef-n_0000000002", "_c_ffff-n_0000000007", "n_0000000010"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if d := displayName(want[0]); d != "n_0000000002" {
		t.Fatalf("displayName: %q", d)
	}
}

// Ctrl-C while joining, before ZooKeeper answered or as the join starts, is a clean end.
func TestJoinInterrupted(t *testing.T) {
	leaktest.Check(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String() // nothing listens there once closed
	ln.Close()
	var out progtest.Output
	stop := progtest.Start(t, func(ctx context.Context) error {
		return run(ctx, []string{"-servers", dead, "-join", "-id", "alice"}, &out)
	})
	time.Sleep(300 * time.Millisecond) // joining: waiting for a server
	if err := stop(); err != nil {
		t.Fatalf("interrupted while joining (no server): %v, want nil", err)
	}
	if strings.Contains(out.String(), "joined") {
		t.Fatalf("joined without a server:\n%s", out.String())
	}

	p := progtest.UniquePath(t) + "/election"
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := run(ctx, []string{"-servers", strings.Join(zkc.Addrs(), ","), "-path", p, "-join", "-id", "bob"}, &out); err != nil {
		t.Fatalf("interrupted as the join starts: %v, want nil", err)
	}
	raw := progtest.RawClient(t, zkc.Addrs())
	if kids, _, err := raw.Children(p); err == nil && len(kids) > 0 {
		t.Fatalf("candidates left behind: %v", kids)
	}
}

func TestRunUsage(t *testing.T) {
	leaktest.Check(t)
	if err := run(context.Background(), []string{"-bogus"}, &progtest.Output{}); err == nil {
		t.Fatal("an unknown flag was accepted")
	}
	if err := run(context.Background(), []string{"-servers", zkc.Addrs()[0], "-path", "x"}, &progtest.Output{}); err == nil {
		t.Fatal("an invalid path was accepted")
	}
}
