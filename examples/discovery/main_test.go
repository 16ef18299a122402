package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/internal/progtest"
	"github.com/zkmirror/zkmirror/internal/zktest"
	"github.com/zkmirror/zkmirror/leaktest"
)

var zkc *zktest.Cluster

func TestMain(m *testing.M) {
	zktest.Main(m, zktest.Options{}, func(c *zktest.Cluster) { zkc = c })
}

const wait = 15 * time.Second

func TestRun(t *testing.T) {
	leaktest.Check(t)
	base := progtest.UniquePath(t)
	services, flagPath := base+"/services", base+"/flags/discovery"
	raw := progtest.RawClient(t, zkc.Addrs())
	var out progtest.Output
	stop := progtest.Start(t, func(ctx context.Context) error {
		args := []string{"-servers", strings.Join(zkc.Addrs(), ","), "-path", services, "-flag", flagPath}
		return run(ctx, args, &out)
	})

	out.Expect(t, "discovery: no services ("+services+" does not exist)", wait)

	// Register two services at once: they show as one listing.
	progtest.CreateAll(t, raw, services+"/api/i-1", []byte("10.0.0.1:8080"))
	progtest.CreateAll(t, raw, services+"/api/i-2", []byte("10.0.0.2:8080"))
	progtest.CreateAll(t, raw, services+"/web", nil)
	out.Expect(t, "discovery: 2 services", wait)
	out.Expect(t, "  api: 2 instances: i-1=10.0.0.1:8080 i-2=10.0.0.2:8080", 0)
	out.Expect(t, "  web: no instances", 0)

	// An instance comes, as the services register themselves: ephemeral.
	if _, err := raw.Create(services+"/web/w-1", []byte("10.0.0.3:80"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	out.Expect(t, "discovery: 2 services", wait)
	out.Expect(t, "  api: 2 instances", 0)
	out.Expect(t, "  web: 1 instance: w-1=10.0.0.3:80", 0)

	// The flag turns discovery off, then on again.
	progtest.CreateAll(t, raw, flagPath, []byte("off"))
	out.Expect(t, "discovery: off ("+flagPath+")", wait)
	if _, err := raw.Set(flagPath, []byte("on"), -1); err != nil {
		t.Fatal(err)
	}
	out.Expect(t, "discovery: 2 services", wait)
	out.Expect(t, "  web: 1 instance", 0)

	// An instance goes; a service goes.
	if err := raw.Delete(services+"/api/i-1", -1); err != nil {
		t.Fatal(err)
	}
	out.Expect(t, "  api: 1 instance: i-2=10.0.0.2:8080", wait)
	if err := raw.Delete(services+"/web/w-1", -1); err != nil {
		t.Fatal(err)
	}
	if err := raw.Delete(services+"/web", -1); err != nil {
		t.Fatal(err)
	}
	out.Expect(t, "discovery: 1 service", wait)
	out.Expect(t, "  api: 1 instance: i-2=10.0.0.2:8080", 0)

	if err := stop(); err != nil {
		t.Fatalf("run returned %v after its ctx ended, want nil", err)
	}
	if n := strings.Count(out.String(), "discovery: off"); n != 1 {
		t.Fatalf("the flag turned off once, shown %d times:\n%s", n, out.String())
	}
}

func TestFlagOn(t *testing.T) {
	for data, want := range map[string]bool{"on": true, "": true, "yes": true, "off": false, " OFF\n": false, "false": false, "0": false, "disabled": false} {
		v := zkmirror.Value{Path: "/flag", Data: []byte(data), Exists: true}
		if got := flagOn(v); got != want {
			t.Errorf("flag %q: %v, want %v", data, got, want)
		}
	}
	if !flagOn(zkmirror.Value{Path: "/flag"}) {
		t.Error("a missing flag node reads off, want on")
	}
}

func TestRunUsage(t *testing.T) {
	leaktest.Check(t)
	if err := run(context.Background(), []string{"-servers", zkc.Addrs()[0], "-path", "nope"}, &progtest.Output{}); err == nil {
		t.Fatal("an invalid path was accepted")
	}
}
