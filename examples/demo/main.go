// Command demo shows zkmirror at work: it follows a JSON configuration node with the
// configwatch example's code while a writer creates the node, changes it, deletes it and
// creates it again. It takes a few seconds.
//
// Without arguments it needs no setup: it starts a throwaway ZooKeeper server on a free
// loopback port and stops it at the end. That takes java and ZooKeeper (`make zk` installs
// them). `make demo` runs it so:
//
//	go run ./examples/demo
//
// With -servers it uses that ensemble instead, like the other examples:
//
//	go run ./examples/demo -servers 127.0.0.1:2181
//
// There /demo/config must not exist (the demo refuses to start rather than overwrite it), and
// on the way out, interrupted or not, the demo deletes /demo/config, and /demo if it created
// it and nothing else was put there meanwhile.
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
	"sync"
	"syscall"
	"time"

	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/examples/internal/configwatch"
	"github.com/zkmirror/zkmirror/internal/zktest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		stop()
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

const (
	configPath = "/demo/config"
	parentPath = "/demo"
	// quiet is the debounce period: a state is shown once it has held this long.
	quiet = 150 * time.Millisecond
	// stepTimeout bounds the wait for the watcher to show the result of a write, and each
	// check and clean-up on a -servers ensemble.
	stepTimeout = 10 * time.Second
)

// run is the whole demo: it parses the command line, runs the demo on a throwaway server or
// the -servers ensemble, and prints what happens to stdout. An interrupt (ctx ending) is not
// an error. It returns once a throwaway server is stopped, or once the nodes the demo created
// on the ensemble are deleted, and every goroutine ended.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	servers := fs.String("servers", "", "ZooKeeper servers, comma-separated host:port (default: start a throwaway server)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	say := func(format string, args ...any) { fmt.Fprintf(stdout, format+"\n", args...) }

	var addrs []string
	if *servers == "" {
		if err := zktest.Installed(); err != nil {
			return err // it names what is missing and tells to run `make zk`
		}
		say("starting a throwaway ZooKeeper server...")
		zk, err := zktest.StartStandalone(zktest.Options{})
		if err != nil {
			return err
		}
		defer func() {
			say("stopping the server")
			zk.Close()
		}()
		addrs = zk.Addrs()
		say("ZooKeeper serves on %s", addrs[0])
	} else {
		addrs = strings.Split(*servers, ",")
		say("using ZooKeeper at %s", *servers)
	}

	// The watcher: the mirror the configwatch example uses.
	watcher, err := zkmirror.Connect(addrs)
	if err != nil {
		return err
	}
	defer watcher.Close()
	// The writer: another client, as if another process changed the configuration.
	writer, err := zkmirror.Connect(addrs)
	if err != nil {
		return err
	}
	defer writer.Close()

	var createdParent bool
	if *servers == "" {
		return show(ctx, watcher, writer, say, &createdParent) // the server goes, with the nodes
	}
	if err := checkAbsent(ctx, writer, *servers); err != nil {
		if ctx.Err() != nil {
			say("interrupted")
			return nil
		}
		return err
	}
	err = show(ctx, watcher, writer, say, &createdParent)
	return errors.Join(err, cleanUp(writer, createdParent, say))
}

// show follows configPath with the watcher while the writer runs the script, and returns
// once the watcher has stopped. An interrupt (ctx ending) is not an error. It sets
// *createdParent when it creates parentPath.
func show(ctx context.Context, watcher, writer *zkmirror.Mirror, say func(string, ...any), createdParent *bool) error {
	ctx, cancel := context.WithCancel(ctx)
	updates := make(chan configwatch.Update)
	var wg sync.WaitGroup
	var watchErr error
	wg.Go(func() {
		watchErr = configwatch.Watch(ctx, watcher, configPath, quiet, func(u configwatch.Update) {
			select {
			case updates <- u:
			case <-ctx.Done():
			}
		})
	})
	// Stop the watcher before the mirrors close.
	defer func() {
		cancel()
		wg.Wait()
	}()

	say("watching %s (changes closer than %v are debounced into one)", configPath, quiet)
	say("")
	if err := script(ctx, writer, updates, say, createdParent); err != nil {
		if ctx.Err() != nil {
			say("interrupted")
			return nil // Ctrl-C: not a failure; the deferred calls clean up
		}
		return err
	}
	cancel()
	wg.Wait()
	if watchErr != nil {
		return watchErr
	}
	say("")
	return nil
}

// checkAbsent returns nil if configPath does not exist on the servers, and an error if it
// does (the demo deletes and re-creates it: it leaves data it did not write alone) or cannot
// be read within stepTimeout or before ctx ends.
func checkAbsent(ctx context.Context, m *zkmirror.Mirror, servers string) error {
	n, err := m.Node(configPath)
	if err != nil {
		return err
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	_, err = n.Value(ctx)
	switch {
	case errors.Is(err, zkmirror.ErrNoNode):
		return nil
	case err == nil:
		return fmt.Errorf("%s exists at %s: the demo would overwrite it; delete it or use a throwaway server (no -servers)", configPath, servers)
	default:
		return fmt.Errorf("reading %s at %s: %w", configPath, servers, err)
	}
}

// cleanUp deletes configPath, and parentPath too when parent is true, unless it holds other
// nodes. It runs after an interrupt too, so it has a context of its own, bounded by
// stepTimeout.
func cleanUp(m *zkmirror.Mirror, parent bool, say func(string, ...any)) error {
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	paths := []string{configPath}
	if parent {
		paths = append(paths, parentPath)
	}
	for _, p := range paths {
		n, err := m.Node(p)
		if err != nil {
			return err
		}
		err = n.Delete(ctx, -1)
		n.Close()
		switch {
		case err == nil:
			say("removed %s", p)
		case errors.Is(err, zkmirror.ErrNoNode), errors.Is(err, zkmirror.ErrNotEmpty):
			// never created (an early interrupt), or someone else's nodes are below it
		default:
			return fmt.Errorf("removing %s: %w", p, err)
		}
	}
	return nil
}

// script makes the writes and shows, after each, the state the watcher reports once it
// settles: each step waits for the update it expects, so the output reads in order. It sets
// *createdParent when it creates parentPath.
func script(ctx context.Context, writer *zkmirror.Mirror, updates <-chan configwatch.Update, say func(string, ...any), createdParent *bool) error {
	node, err := writer.Node(configPath)
	if err != nil {
		return err
	}
	defer node.Close()

	// expect shows the watcher's updates until one satisfies ok.
	expect := func(what string, ok func(configwatch.Update) bool) error {
		timeout := time.NewTimer(stepTimeout)
		defer timeout.Stop()
		for {
			select {
			case u := <-updates:
				say("  watcher sees  %v", u)
				if ok(u) {
					return nil
				}
			case <-timeout.C:
				return fmt.Errorf("the watcher did not see %s within %v", what, stepTimeout)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	version := func(v int32) func(configwatch.Update) bool {
		return func(u configwatch.Update) bool { return u.Exists && u.Err == nil && u.Version == v }
	}
	missing := func(u configwatch.Update) bool { return !u.Exists && u.Err == nil }
	set := func(data string) error {
		say("writer: set     %s", data)
		_, err := node.Set(ctx, []byte(data), -1)
		return err
	}

	if err := expect("the node missing", missing); err != nil {
		return err
	}

	say("writer: create  %s %s", configPath, `{"greeting":"hello","workers":2}`)
	created, err := createParent(ctx, writer)
	*createdParent = created
	if err != nil {
		return err
	}
	if _, err := node.Create(ctx, []byte(`{"greeting":"hello","workers":2}`)); err != nil {
		return err
	}
	if err := expect("version 0", version(0)); err != nil {
		return err
	}

	if err := set(`{"greeting":"hello","workers":4}`); err != nil {
		return err
	}
	if err := expect("version 1", version(1)); err != nil {
		return err
	}

	say("writer: set     5 times in a row, workers 5 to 9 (a burst: only the last shows)")
	for w := 5; w <= 9; w++ {
		if _, err := node.Set(ctx, fmt.Appendf(nil, `{"greeting":"hello","workers":%d}`, w), -1); err != nil {
			return err
		}
	}
	if err := expect("version 6", version(6)); err != nil {
		return err
	}

	if err := set(`{"greeting":"hello","workers":"lots"}`); err != nil {
		return err
	}
	if err := expect("invalid data", func(u configwatch.Update) bool { return u.Err != nil && u.Version == 7 }); err != nil {
		return err
	}

	say("writer: delete  %s", configPath)
	if err := node.Delete(ctx, -1); err != nil {
		return err
	}
	if err := expect("the node missing", missing); err != nil {
		return err
	}

	say("writer: create  %s %s", configPath, `{"greeting":"welcome back","workers":1,"debug":true}`)
	if _, err := node.Create(ctx, []byte(`{"greeting":"welcome back","workers":1,"debug":true}`)); err != nil {
		return err
	}
	return expect("the re-created node", version(0))
}

// createParent creates parentPath, the parent of the configuration node, unless it exists,
// and reports whether it created it.
func createParent(ctx context.Context, m *zkmirror.Mirror) (bool, error) {
	parent, err := m.Node(parentPath)
	if err != nil {
		return false, err
	}
	defer parent.Close()
	switch _, err := parent.Create(ctx, nil); {
	case err == nil:
		return true, nil
	case errors.Is(err, zkmirror.ErrNodeExists):
		return false, nil
	default:
		return false, err
	}
}
