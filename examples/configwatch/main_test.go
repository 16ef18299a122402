package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"path/filepath"
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

func TestRun(t *testing.T) {
	leaktest.Check(t)
	p := progtest.UniquePath(t) + "/config"
	raw := progtest.RawClient(t, zkc.Addrs())
	var out progtest.Output
	stop := progtest.Start(t, func(ctx context.Context) error {
		return run(ctx, []string{"-servers", strings.Join(zkc.Addrs(), ","), "-path", p, "-debounce", "50ms"}, &out)
	})

	out.Expect(t, "config: missing", 15*time.Second)
	progtest.CreateAll(t, raw, p, []byte(`{"greeting":"hello","workers":2}`))
	out.Expect(t, "config: {Greeting:hello Workers:2 Debug:false} version 0", 10*time.Second)
	for _, data := range []string{`{"greeting":"hello","workers":3}`, `{"greeting":"hi","workers":4}`} {
		if _, err := raw.Set(p, []byte(data), -1); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // longer than the debounce period: each state shows
	}
	out.Expect(t, "config: {Greeting:hello Workers:3 Debug:false} version 1", 10*time.Second)
	out.Expect(t, "config: {Greeting:hi Workers:4 Debug:false} version 2", 10*time.Second)
	if _, err := raw.Set(p, []byte(`not json`), -1); err != nil {
		t.Fatal(err)
	}
	out.Expect(t, "config: invalid (version 3): ", 10*time.Second)
	if err := raw.Delete(p, -1); err != nil {
		t.Fatal(err)
	}
	out.Expect(t, "config: missing", 10*time.Second)
	if err := stop(); err != nil {
		t.Fatalf("run returned %v after its ctx ended, want nil", err)
	}
}

// TestRunSnapshot: with -snapshot, a run with no server reachable starts from the state the
// previous run saved, then takes the server's.
func TestRunSnapshot(t *testing.T) {
	leaktest.Check(t)
	p := progtest.UniquePath(t) + "/config"
	file := filepath.Join(t.TempDir(), "config.snap")
	raw := progtest.RawClient(t, zkc.Addrs())
	progtest.CreateAll(t, raw, p, []byte(`{"greeting":"saved","workers":2}`))
	var out progtest.Output
	stop := progtest.Start(t, func(ctx context.Context) error {
		return run(ctx, []string{"-servers", strings.Join(zkc.Addrs(), ","), "-path", p, "-debounce", "0", "-snapshot", file}, &out)
	})
	out.Expect(t, "config: {Greeting:saved Workers:2 Debug:false} version 0", 15*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Set(p, []byte(`{"greeting":"newer","workers":3}`), -1); err != nil {
		t.Fatal(err)
	}

	// No server: the saved state, flagged.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	var out2 progtest.Output
	stop = progtest.Start(t, func(ctx context.Context) error {
		return run(ctx, []string{"-servers", dead, "-path", p, "-debounce", "0", "-snapshot", file}, &out2)
	})
	out2.Expect(t, "config: {Greeting:saved Workers:2 Debug:false} version 0 (from the snapshot file)", 10*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// A server again: its state replaces the saved one.
	var out3 progtest.Output
	stop = progtest.Start(t, func(ctx context.Context) error {
		return run(ctx, []string{"-servers", strings.Join(zkc.Addrs(), ","), "-path", p, "-debounce", "0", "-snapshot", file}, &out3)
	})
	// (The saved state may show first, and the server's is then flagged resync: the server
	// may also answer before the node is first read.)
	out3.Expect(t, "config: {Greeting:newer Workers:3 Debug:false} version 1", 15*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestRunUsage(t *testing.T) {
	leaktest.Check(t)
	ctx := context.Background()
	if err := run(ctx, []string{"-nope"}, io.Discard); err == nil {
		t.Fatal("an unknown flag was accepted")
	}
	if err := run(ctx, []string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	if err := run(ctx, []string{"extra"}, io.Discard); err == nil {
		t.Fatal("an extra argument was accepted")
	}
	if err := run(ctx, []string{"-servers", zkc.Addrs()[0], "-path", "bad"}, io.Discard); err == nil {
		t.Fatal("an invalid path was accepted")
	}
}
