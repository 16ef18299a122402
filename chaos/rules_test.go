package chaos_test

import (
	"slices"
	"testing"

	"github.com/zkmirror/zkmirror/leaktest"
)

// TestRecorderRules checks the checker the other tests rely on: each sequence must be
// accepted or rejected as the monotonic rule says.
func TestRecorderRules(t *testing.T) {
	leaktest.Check(t)
	node := func(c, z int64) snap { return snap{exists: true, czxid: c, zxid: z} }
	resync := func(s snap) snap { s.resync = true; return s }
	absent := snap{}
	cases := []struct {
		name   string
		stream bool
		seq    []snap
		bad    int
	}{
		{"growing", true, []snap{node(1, 1), node(1, 5), node(1, 9)}, 0},
		{"went back", true, []snap{node(1, 5), node(1, 4)}, 1},
		{"older incarnation", true, []snap{node(3, 5), node(2, 9)}, 1},
		{"equal without resync", true, []snap{node(1, 5), node(1, 5)}, 1},
		{"equal with resync", true, []snap{node(1, 5), resync(node(1, 5))}, 0},
		{"absent twice", true, []snap{absent, absent}, 1},
		{"absent twice with resync", true, []snap{absent, resync(absent)}, 0},
		{"deleted incarnation back", true, []snap{node(4, 6), absent, node(4, 6)}, 1},
		{"deleted incarnation back in a resync", true, []snap{node(4, 6), absent, resync(node(4, 7))}, 1},
		{"re-created", true, []snap{node(4, 6), absent, node(5, 5)}, 0},
		{"re-created without the deletion seen", true, []snap{node(4, 6), node(5, 5)}, 0},
		{"error", true, []snap{node(1, 1), {err: errTest}}, 1},
		{"existing with Czxid 0", true, []snap{node(0, 0)}, 1},
		{"reads repeat", false, []snap{node(1, 5), node(1, 5), absent, absent}, 0},
		{"reads went back", false, []snap{node(1, 5), node(1, 3)}, 1},
		{"reads resurrect", false, []snap{node(2, 5), absent, node(2, 5)}, 1},
	}
	for _, tc := range cases {
		r := newRecorder(tc.name, tc.stream, false)
		for _, s := range tc.seq {
			r.observe(s)
		}
		if n, v := r.violations(); n != tc.bad {
			t.Errorf("%s: %d violations, want %d: %v", tc.name, n, tc.bad, v)
		}
	}
}

type testError struct{}

func (testError) Error() string { return "test error" }

var errTest error = testError{}

// The paths a report of differences names, for the servers' own views of them.
func TestDiffPaths(t *testing.T) {
	diffs := []string{
		"WatchChildren /chaos/d/p3: mirror {…}, server {…}",
		"Children /chaos/d/p3: mirror {…}, server {…}",
		"Watch /chaos/d/p3/c01: mirror exists=true, server exists=false",
		"reading the server: zk: connection closed",
		"Value /chaos/d/p1/c02: mirror exists=true, server exists=false",
	}
	got := diffPaths(diffs, 2)
	if want := []string{"/chaos/d/p3", "/chaos/d/p3/c01"}; !slices.Equal(got, want) {
		t.Fatalf("diffPaths = %v, want %v", got, want)
	}
	if got := diffPaths(diffs, 10); len(got) != 3 {
		t.Fatalf("diffPaths = %v, want 3 paths", got)
	}
}
