// Command configwatch follows one JSON configuration node in ZooKeeper and prints it each
// time it settles into a new state:
//
//	go run ./examples/configwatch -servers 127.0.0.1:2181 -path /demo/config
//
// Try it while changing the node from another terminal, for example with zkCli.sh:
//
//	create /demo
//	create /demo/config {"greeting":"hello","workers":2}
//	set /demo/config {"greeting":"hello","workers":4}
//	delete /demo/config
//
// It prints lines such as
//
//	config: missing
//	config: {Greeting:hello Workers:2 Debug:false} version 0
//	config: {Greeting:hello Workers:4 Debug:false} version 1
//
// With -snapshot FILE the mirror keeps its last-known-good state in FILE (mode 0600; it
// holds the node's data in clear), so that a start while ZooKeeper is unreachable still
// has a configuration:
//
//	go run ./examples/configwatch -servers 127.0.0.1:2181 -snapshot /var/tmp/config.snap
//
// prints, when no server answers,
//
//	config: {Greeting:hello Workers:4 Debug:false} version 1 (from the snapshot file)
//
// and, once a server answers, its state flagged " (resync)".
//
// and ends cleanly on Ctrl-C (SIGINT) or SIGTERM.
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
	"github.com/zkmirror/zkmirror/examples/internal/configwatch"
)

func main() {
	// The context ends on Ctrl-C or SIGTERM; everything below stops when it does.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		stop()
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "configwatch:", err)
		os.Exit(1)
	}
}

// run parses the command line, connects and prints the configuration's states to stdout
// until ctx ends.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("configwatch", flag.ContinueOnError)
	servers := fs.String("servers", "127.0.0.1:2181", "ZooKeeper servers, comma-separated host:port")
	path := fs.String("path", "/demo/config", "the configuration node (JSON)")
	quiet := fs.Duration("debounce", 200*time.Millisecond, "report a state once it has held this long (0: every state)")
	snapshot := fs.String("snapshot", "", "keep the last-known-good state in this file and start from it (it holds the data in clear, mode 0600)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	// Connect returns at once and connects in the background: the first state is printed
	// once ZooKeeper has answered.
	var opts []zkmirror.Option
	if *snapshot != "" {
		opts = append(opts, zkmirror.WithSnapshotFile(*snapshot))
	}
	m, err := zkmirror.Connect(strings.Split(*servers, ","), opts...)
	if err != nil {
		return err
	}
	// Close ends the session and every goroutine of the mirror.
	defer m.Close()

	return configwatch.Watch(ctx, m, *path, *quiet, func(u configwatch.Update) {
		fmt.Fprintln(stdout, u)
	})
}
