package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/zkmirror/zkmirror/examples/internal/exampletest"
	"github.com/zkmirror/zkmirror/leaktest"
)

// The demo starts its own server: no shared one here.
func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	leaktest.Check(t)
	var out exampletest.Output
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, &out); err != nil {
		t.Fatalf("run: %v; output:\n%s", err, out.String())
	}
	addrLine := out.Expect(t, "ZooKeeper serves on ", 0)
	for _, want := range []string{
		"watcher sees  config: missing",
		"writer: create  /demo/config",
		"watcher sees  config: {Greeting:hello Workers:2 Debug:false} version 0",
		"watcher sees  config: {Greeting:hello Workers:4 Debug:false} version 1",
		"watcher sees  config: {Greeting:hello Workers:9 Debug:false} version 6",
		"watcher sees  config: invalid (version 7)",
		"writer: delete  /demo/config",
		"watcher sees  config: missing",
		"watcher sees  config: {Greeting:welcome back Workers:1 Debug:true} version 0",
		"stopping the server",
	} {
		out.Expect(t, want, 0)
	}
	// The burst of five writes shows once.
	if n := strings.Count(out.String(), "Workers:"); n != 4 {
		t.Errorf("%d configurations shown, want 4 (the burst debounced into one):\n%s", n, out.String())
	}
	// Nothing is left running: the server's port is closed.
	addr := strings.TrimPrefix(addrLine, "ZooKeeper serves on ")
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("the server at %s still accepts connections after the demo", addr)
	}
}

func TestRunInterrupted(t *testing.T) {
	leaktest.Check(t)
	var out exampletest.Output
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as if Ctrl-C came at once
	if err := run(ctx, &out); err != nil {
		t.Fatalf("an interrupted demo returned %v, want nil", err)
	}
	out.Expect(t, "interrupted", 0)
	out.Expect(t, "stopping the server", 0)
}
