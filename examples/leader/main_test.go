package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zkmirror/zkmirror/examples/internal/exampletest"
	"github.com/zkmirror/zkmirror/internal/zktest"
	"github.com/zkmirror/zkmirror/leaktest"
)

var zkc *zktest.Cluster

func TestMain(m *testing.M) {
	zktest.Main(m, zktest.Options{}, func(c *zktest.Cluster) { zkc = c })
}

const wait = 15 * time.Second

func start(t *testing.T, out *exampletest.Output, args ...string) func() error {
	args = append([]string{"-servers", strings.Join(zkc.Addrs(), ",")}, args...)
	return exampletest.Start(t, func(ctx context.Context) error { return run(ctx, args, out) })
}

func TestElection(t *testing.T) {
	leaktest.Check(t)
	p := exampletest.UniquePath(t) + "/election"
	raw := exampletest.RawClient(t, zkc.Addrs())

	var watcher, alice, bob exampletest.Output
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

func TestRunUsage(t *testing.T) {
	leaktest.Check(t)
	if err := run(context.Background(), []string{"-bogus"}, &exampletest.Output{}); err == nil {
		t.Fatal("an unknown flag was accepted")
	}
	if err := run(context.Background(), []string{"-servers", zkc.Addrs()[0], "-path", "x"}, &exampletest.Output{}); err == nil {
		t.Fatal("an invalid path was accepted")
	}
}
