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

// The demo starts its own server, and TestRunServers one for -servers: no shared one here.
func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// wantScript is what every full run shows, in order.
var wantScript = []string{
	"watcher sees  config: missing",
	"writer: create  /demo/config",
	"watcher sees  config: {Greeting:hello Workers:2 Debug:false} version 0",
	"watcher sees  config: {Greeting:hello Workers:4 Debug:false} version 1",
	"watcher sees  config: {Greeting:hello Workers:9 Debug:false} version 6",
	"watcher sees  config: invalid (version 7)",
	"writer: delete  /demo/config",
	"watcher sees  config: missing",
	"watcher sees  config: {Greeting:welcome back Workers:1 Debug:true} version 0",
}

// checkScript checks that out shows the script, then the lines of after, in order.
func checkScript(t *testing.T, out *progtest.Output, after ...string) {
	t.Helper()
	for _, want := range slices.Concat(wantScript, after) {
		out.Expect(t, want, 0)
	}
	// The burst of five writes shows once.
	if n := strings.Count(out.String(), "Workers:"); n != 4 {
		t.Errorf("%d configurations shown, want 4 (the burst debounced into one):\n%s", n, out.String())
	}
}

func TestRun(t *testing.T) {
	leaktest.Check(t)
	var out progtest.Output
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, nil, &out); err != nil {
		t.Fatalf("run: %v; output:\n%s", err, out.String())
	}
	addrLine := out.Expect(t, "ZooKeeper serves on ", 0)
	checkScript(t, &out, "stopping the server")
	// Nothing is left running: the server's port is closed.
	addr := strings.TrimPrefix(addrLine, "ZooKeeper serves on ")
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("the server at %s still accepts connections after the demo", addr)
	}
}

func TestRunInterrupted(t *testing.T) {
	leaktest.Check(t)
	var out progtest.Output
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as if Ctrl-C came at once
	if err := run(ctx, nil, &out); err != nil {
		t.Fatalf("an interrupted demo returned %v, want nil", err)
	}
	out.Expect(t, "interrupted", 0)
	out.Expect(t, "stopping the server", 0)
}

func TestRunServers(t *testing.T) {
	leaktest.Check(t)
	srv, err := zktest.StartStandalone(zktest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	servers := strings.Join(srv.Addrs(), ",")
	raw := progtest.RawClient(t, srv.Addrs())
	exists := func(path string) bool {
		t.Helper()
		ok, _, err := raw.Exists(path)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	demo := func(ctx context.Context) (*progtest.Output, error) {
		t.Helper()
		var out progtest.Output
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		err := run(ctx, []string{"-servers", servers}, &out)
		if strings.Contains(out.String(), "throwaway") || strings.Contains(out.String(), "stopping the server") {
			t.Errorf("a server was started despite -servers:\n%s", out.String())
		}
		return &out, err
	}

	// It creates /demo: it deletes it afterwards.
	out, err := demo(context.Background())
	if err != nil {
		t.Fatalf("run: %v; output:\n%s", err, out.String())
	}
	out.Expect(t, "using ZooKeeper at "+servers, 0)
	checkScript(t, out, "removed /demo/config", "removed /demo")
	if exists("/demo") {
		t.Errorf("/demo is left behind:\n%s", out.String())
	}

	// /demo is someone else's: it is left, with what it holds.
	progtest.CreateAll(t, raw, "/demo/other", []byte("theirs"))
	out, err = demo(context.Background())
	if err != nil {
		t.Fatalf("run with /demo existing: %v; output:\n%s", err, out.String())
	}
	checkScript(t, out, "removed /demo/config")
	if strings.Contains(out.String(), "removed /demo\n") || !exists("/demo/other") || exists("/demo/config") {
		t.Errorf("with /demo existing: /demo/other kept %v, /demo/config kept %v; output:\n%s", exists("/demo/other"), exists("/demo/config"), out.String())
	}
	if err := raw.Delete("/demo/other", -1); err != nil {
		t.Fatal(err)
	}
	if err := raw.Delete("/demo", -1); err != nil {
		t.Fatal(err)
	}

	// /demo/config exists: the demo refuses to touch it.
	progtest.CreateAll(t, raw, "/demo/config", []byte("precious"))
	out, err = demo(context.Background())
	if err == nil || !strings.Contains(err.Error(), "/demo/config exists") {
		t.Fatalf("run with /demo/config existing: %v, want a refusal; output:\n%s", err, out.String())
	}
	if data, _, err := raw.Get("/demo/config"); err != nil || string(data) != "precious" {
		t.Fatalf("/demo/config after a refusal: %q, %v", data, err)
	}
	for _, p := range []string{"/demo/config", "/demo"} {
		if err := raw.Delete(p, -1); err != nil {
			t.Fatal(err)
		}
	}

	// Interrupted at once: nothing is left.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out, err = demo(ctx)
	if err != nil {
		t.Fatalf("an interrupted demo returned %v, want nil", err)
	}
	out.Expect(t, "interrupted", 0)
	if exists("/demo") {
		t.Errorf("an interrupted demo left /demo behind")
	}
}

func TestRunUsage(t *testing.T) {
	leaktest.Check(t)
	var out progtest.Output
	if err := run(context.Background(), []string{"-bogus"}, &out); err == nil {
		t.Fatal("an unknown flag was accepted")
	}
	if err := run(context.Background(), []string{"extra"}, &out); err == nil || !strings.Contains(err.Error(), `unexpected argument "extra"`) {
		t.Fatalf("an argument: %v", err)
	}
	if out.String() != "" {
		t.Fatalf("a usage error printed to stdout:\n%s", out.String())
	}
}
