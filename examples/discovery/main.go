// Command discovery lists the instances of services registered in ZooKeeper, live, and
// honours a feature flag that turns discovery off.
//
// The registry is a directory of services, each a directory of instances holding their
// address:
//
//	/demo/services/api/i-1   "10.0.0.1:8080"
//	/demo/services/api/i-2   "10.0.0.2:8080"
//	/demo/services/web/w-1   "10.0.0.3:80"
//
// and the flag node (/demo/flags/discovery) holds "on" or "off" (missing means on).
//
//	go run ./examples/discovery -servers 127.0.0.1:2181
//
// It prints the whole listing each time it changes, for example
//
//	discovery: 2 services
//	  api: 2 instances: i-1=10.0.0.1:8080 i-2=10.0.0.2:8080
//	  web: 1 instance: w-1=10.0.0.3:80
//
// or "discovery: off (/demo/flags/discovery)" while the flag is off, and ends cleanly on
// Ctrl-C (SIGINT) or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/operators"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		stop()
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "discovery:", err)
		os.Exit(1)
	}
}

// settle is how long the registry must be quiet before a new listing is printed, so that
// a burst of registrations shows as one listing.
const settle = 100 * time.Millisecond

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("discovery", flag.ContinueOnError)
	servers := fs.String("servers", "127.0.0.1:2181", "ZooKeeper servers, comma-separated host:port")
	root := fs.String("path", "/demo/services", "the services directory")
	flagPath := fs.String("flag", "/demo/flags/discovery", `the feature flag node: "off" turns discovery off`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	m, err := zkmirror.Connect(strings.Split(*servers, ","))
	if err != nil {
		return err
	}
	defer m.Close()

	// Mirror the registry two levels deep: services, then their instances (with data).
	tree, err := m.Tree(*root, zkmirror.MaxDepth(2))
	if err != nil {
		return err
	}
	defer tree.Close()
	flagNode, err := m.Node(*flagPath)
	if err != nil {
		return err
	}
	defer flagNode.Close()

	// Wait for the initial load, so that the first listing is complete.
	if err := tree.Synced(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}

	// Something changed in the registry (or we just started): one tick per event, plus one
	// now. A burst of ticks settles into one; each tick becomes a listing of the registry
	// as it is then.
	start := make(chan zkmirror.TreeEvent, 1)
	start <- zkmirror.TreeEvent{Path: *root}
	close(start)
	ticks := operators.Debounce(ctx, operators.Merge(ctx, start, tree.Events(ctx)), settle)
	listings := operators.Map(ctx, ticks, func(zkmirror.TreeEvent) listing { return snapshot(tree, *root) })

	// The flag, live: on unless its node says "off".
	enabled := operators.Map(ctx, flagNode.Watch(ctx), flagOn)

	// Each time either changes, render both; print what differs from the last print.
	render := func(l listing, on bool) string {
		if !on {
			return fmt.Sprintf("discovery: off (%s)", *flagPath)
		}
		return l.String()
	}
	for text := range operators.Distinct(ctx, operators.CombineLatest2(ctx, listings, enabled, render)) {
		fmt.Fprintln(stdout, text)
	}
	if ctx.Err() != nil {
		return nil // stopped by the caller
	}
	return fmt.Errorf("following %s: %w", *root, zkmirror.ErrClosed)
}

// flagOn reads the feature flag: off when the node holds "off" (or "false", "0",
// "disabled"), on otherwise, a missing node included.
func flagOn(v zkmirror.Value) bool {
	if !v.Exists {
		return true
	}
	switch strings.ToLower(strings.TrimSpace(string(v.Data))) {
	case "off", "false", "0", "disabled":
		return false
	}
	return true
}

// listing is the registry at one moment.
type listing struct {
	root     string
	exists   bool
	services []service
}

type service struct {
	name      string
	instances []instance
}

type instance struct {
	name, addr string
}

// snapshot reads the registry from the mirror (no server round trip).
func snapshot(tree *zkmirror.Tree, root string) listing {
	l := listing{root: root}
	names, ok := tree.Children(root)
	if !ok {
		return l // the services directory does not exist
	}
	l.exists = true
	for _, name := range names {
		s := service{name: name}
		dir := root + "/" + name
		ids, _ := tree.Children(dir)
		for _, id := range ids {
			if v, ok := tree.Get(dir + "/" + id); ok {
				s.instances = append(s.instances, instance{name: id, addr: string(v.Data)})
			}
		}
		l.services = append(l.services, s)
	}
	return l
}

// String renders the listing, one line per service.
func (l listing) String() string {
	var b strings.Builder
	switch {
	case !l.exists:
		fmt.Fprintf(&b, "discovery: no services (%s does not exist)", l.root)
	case len(l.services) == 0:
		b.WriteString("discovery: no services")
	default:
		fmt.Fprintf(&b, "discovery: %s", plural(len(l.services), "service"))
	}
	for _, s := range l.services {
		if len(s.instances) == 0 {
			fmt.Fprintf(&b, "\n  %s: no instances", s.name)
			continue
		}
		fmt.Fprintf(&b, "\n  %s: %s:", s.name, plural(len(s.instances), "instance"))
		for _, in := range s.instances {
			if in.addr == "" {
				fmt.Fprintf(&b, " %s", in.name)
			} else {
				fmt.Fprintf(&b, " %s=%s", in.name, in.addr)
			}
		}
	}
	return b.String()
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
