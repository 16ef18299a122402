package zktest_test

import (
	"errors"
	"testing"
	"time"

	"github.com/zkmirror/zkmirror/internal/zktest"
	"github.com/zkmirror/zkmirror/leaktest"
)

func TestParseSrvr(t *testing.T) {
	leaktest.Check(t)
	const leader = "Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\n" +
		"Latency min/avg/max: 1/2.5/7\n" +
		"Received: 120\n" +
		"Sent: 119\n" +
		"Connections: 3\n" +
		"Outstanding: 0\n" +
		"Zxid: 0x100000002\n" +
		"Mode: leader\n" +
		"Node count: 6\n" +
		"Proposal sizes last/min/max: 48/48/92\n"
	got, err := zktest.ParseSrvr(leader)
	if err != nil {
		t.Fatal(err)
	}
	want := zktest.Srvr{
		Version:     "3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC",
		LatencyMin:  1,
		LatencyAvg:  2.5,
		LatencyMax:  7,
		Received:    120,
		Sent:        119,
		Connections: 3,
		Outstanding: 0,
		Zxid:        0x100000002,
		Mode:        "leader",
		NodeCount:   6,
	}
	if got != want {
		t.Errorf("ParseSrvr:\n got %+v\nwant %+v", got, want)
	}

	if _, err := zktest.ParseSrvr("This ZooKeeper instance is not currently serving requests\n"); !errors.Is(err, zktest.ErrNotServing) {
		t.Errorf("not serving: err = %v, want ErrNotServing", err)
	}
	if _, err := zktest.ParseSrvr("Received: many\nMode: standalone\n"); err == nil || errors.Is(err, zktest.ErrNotServing) {
		t.Errorf("bad number: err = %v, want a parse error", err)
	}
	if _, err := zktest.ParseSrvr("Latency min/avg/max: 1/2\nMode: standalone\n"); err == nil {
		t.Error("bad latency: no error")
	}
}

func TestParseProcStatCPU(t *testing.T) {
	leaktest.Check(t)
	for _, tc := range []struct {
		line string
		want time.Duration
		ok   bool
	}{
		{"4242 (java) S 1 4242 4242 0 -1 4194560 90 0 0 0 250 130 0 0 20 0 40 0 100 0 0", 3800 * time.Millisecond, true},
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
