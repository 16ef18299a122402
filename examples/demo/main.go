// Command demo shows zkmirror at work without any setup: it starts a throwaway ZooKeeper
// server on a free loopback port, follows a JSON configuration node with the configwatch
// example's code while a writer creates the node, changes it, deletes it and creates it
// again, then stops the server. `make demo` runs it:
//
//	go run ./examples/demo
//
// It needs java and ZooKeeper (`make zk` installs them) and takes a few seconds.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
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
	if err := run(ctx, os.Stdout); err != nil {
		stop()
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

const (
	configPath = "/demo/config"
	// quiet is the debounce period: a state is shown once it has held this long.
	quiet = 150 * time.Millisecond
	// stepTimeout bounds the wait for the watcher to show the result of a write.
	stepTimeout = 10 * time.Second
)

// run is the whole demo. It returns once the server is stopped and every goroutine ended.
func run(ctx context.Context, stdout io.Writer) error {
	if err := zktest.Installed(); err != nil {
		return err // it names what is missing and tells to run `make zk`
	}
	say := func(format string, args ...any) { fmt.Fprintf(stdout, format+"\n", args...) }

	say("starting a throwaway ZooKeeper server...")
	zk, err := zktest.StartStandalone(zktest.Options{})
	if err != nil {
		return err
	}
	defer func() {
		say("stopping the server")
		zk.Close()
	}()
	say("ZooKeeper serves on %s", zk.Addrs()[0])

	// The watcher: the mirror the configwatch example uses, reporting to updates.
	watcher, err := zkmirror.Connect(zk.Addrs())
	if err != nil {
		return err
	}
	defer watcher.Close()
	// The writer: another client, as if another process changed the configuration.
	writer, err := zkmirror.Connect(zk.Addrs())
	if err != nil {
		return err
	}
	defer writer.Close()

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
	// Stop the watcher before the mirrors close (deferred calls run last-in first-out).
	defer func() {
		cancel()
		wg.Wait()
	}()

	say("watching %s (changes closer than %v are debounced into one)", configPath, quiet)
	say("")
	if err := script(ctx, writer, updates, say); err != nil {
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

// script makes the writes and shows, after each, the state the watcher reports once it
// settles: each step waits for the update it expects, so the output reads in order.
func script(ctx context.Context, writer *zkmirror.Mirror, updates <-chan configwatch.Update, say func(string, ...any)) error {
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
	if err := createParent(ctx, writer); err != nil {
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

// createParent creates /demo, the parent of the configuration node, unless it exists.
func createParent(ctx context.Context, m *zkmirror.Mirror) error {
	parent, err := m.Node("/demo")
	if err != nil {
		return err
	}
	defer parent.Close()
	if _, err := parent.Create(ctx, nil); err != nil && !errors.Is(err, zkmirror.ErrNodeExists) {
		return err
	}
	return nil
}
