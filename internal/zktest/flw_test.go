package zktest_test

import (
	"errors"
	"testing"

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
