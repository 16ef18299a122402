// Command rx shows the bridge to RxGo (github.com/reactivex/rxgo/v2): a node's snapshots,
// from the mirror's Watch channel, go through RxGo operators and come back as a Go channel.
//
//	go run ./examples/rx -servers 127.0.0.1:2181 -path /demo/rx
//
// It prints each state of the node that has data, upper-cased, and says when the node is
// missing (states with empty data are left out), for example
//
//	/demo/rx is missing
//	/demo/rx = "HELLO" (version 2)
//
// and ends cleanly on Ctrl-C (SIGINT) or SIGTERM. The operators of package operators are
// the first choice for Go code; the bridge is for code that already uses RxGo. See package
// operators/rx for which RxGo operators are safe with it.
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

	"github.com/reactivex/rxgo/v2"
	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/operators/rx"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		stop()
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "rx:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("rx", flag.ContinueOnError)
	servers := fs.String("servers", "127.0.0.1:2181", "ZooKeeper servers, comma-separated host:port")
	path := fs.String("path", "/demo/rx", "the node to follow")
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
	node, err := m.Node(*path)
	if err != nil {
		return err
	}
	defer node.Close()

	// One context for the whole pipeline, given to every stage and cancelled when run
	// returns: RxGo's goroutines end only when it does.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Go channel → observable. It is cold and has one observer: FromObservable below.
	obs := rx.ToObservable(ctx, node.Watch(ctx)).
		// Leave out the states in which the node exists with empty data.
		Filter(func(item any) bool {
			v := item.(zkmirror.Value)
			return !v.Exists || v.Err != nil || len(v.Data) > 0
		}, rxgo.WithContext(ctx)).
		// Turn each into the line to print.
		Map(func(_ context.Context, item any) (any, error) {
			v := item.(zkmirror.Value)
			switch {
			case v.Err != nil:
				return fmt.Sprintf("%s cannot be read: %v", v.Path, v.Err), nil
			case !v.Exists:
				return v.Path + " is missing", nil
			}
			return fmt.Sprintf("%s = %q (version %d)", v.Path, strings.ToUpper(string(v.Data)), v.Stat.Version), nil
		}, rxgo.WithContext(ctx))

	// Observable → Go channel, closed when the observable completes or ctx ends.
	for r := range rx.FromObservable[string](ctx, obs) {
		if r.Err != nil {
			return r.Err
		}
		fmt.Fprintln(stdout, r.Value)
	}
	if ctx.Err() != nil {
		return nil // stopped by the caller
	}
	return fmt.Errorf("following %s: %w", *path, zkmirror.ErrClosed)
}
