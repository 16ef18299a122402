package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror/internal/progtest"
	"github.com/zkmirror/zkmirror/internal/zktest"
	"github.com/zkmirror/zkmirror/leaktest"
)

var zkc *zktest.Cluster

func TestMain(m *testing.M) {
	zktest.Main(m, zktest.Options{}, func(c *zktest.Cluster) { zkc = c })
}

func TestRun(t *testing.T) {
	leaktest.Check(t)
	p := progtest.UniquePath(t)
	raw := progtest.RawClient(t, zkc.Addrs())
	var out progtest.Output
	stop := progtest.Start(t, func(ctx context.Context) error {
		return run(ctx, []string{"-servers", strings.Join(zkc.Addrs(), ","), "-path", p}, &out)
	})
	// Missing at the start: said so.
	out.Expect(t, p+" is missing", 15*time.Second)
	progtest.CreateAll(t, raw, p, []byte("hello"))
	out.Expect(t, p+` = "HELLO" (version 0)`, 15*time.Second)

	// Empty data is filtered out; a missing node is shown, then the next state with data.
	if _, err := raw.Set(p, nil, -1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := raw.Delete(p, -1); err != nil {
		t.Fatal(err)
	}
	out.Expect(t, p+" is missing", 10*time.Second)
	if _, err := raw.Create(p, []byte("again"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	out.Expect(t, p+` = "AGAIN" (version 0)`, 10*time.Second)
	if _, err := raw.Set(p, []byte("world"), -1); err != nil {
		t.Fatal(err)
	}
	out.Expect(t, p+` = "WORLD" (version 1)`, 10*time.Second)
	if err := stop(); err != nil {
		t.Fatalf("run returned %v after its ctx ended, want nil", err)
	}
	if lines := out.Lines(); len(lines) != 5 {
		t.Errorf("want 5 lines (missing, hello, missing, again, world; empty data filtered out), got:\n%s", out.String())
	}
}

func TestRunUsage(t *testing.T) {
	leaktest.Check(t)
	if err := run(context.Background(), []string{"a"}, &progtest.Output{}); err == nil {
		t.Fatal("an extra argument was accepted")
	}
}
