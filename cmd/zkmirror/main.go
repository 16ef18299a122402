// Command zkmirror reads and follows ZooKeeper nodes from the command line, through the
// zkmirror library.
//
//	zkmirror [flags] watch PATH   print the node's value, then every change, until interrupted
//	zkmirror [flags] tree PATH    print the subtree at PATH, then every change in it
//	zkmirror [flags] get PATH     print the node's value and stat, once
//
// Flags may come before or after the command and the path:
//
//	-servers LIST      ZooKeeper servers, comma-separated host:port, optionally followed by a
//	                   chroot ("h1:2181,h2:2181/app"); default $ZOOKEEPER_SERVERS, else
//	                   127.0.0.1:2181
//	-json              print one JSON object per line, for scripts
//	-children          watch, get: the node's children instead of its value
//	-depth N           tree: levels below PATH to mirror (default: all)
//	-debounce DURATION watch: print a state once it has held this long; tree: print changes
//	                   at most once per DURATION, each node's changes merged
//	-timeout DURATION  how long to wait for ZooKeeper to answer first (default 10s)
//
// Connection state changes are shown on stderr. Exit status: 0 on success (watch and tree:
// when interrupted), 1 when ZooKeeper does not answer in time, get finds no node, or another
// error occurs, 2 for a usage error.
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
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

const usageText = `usage: zkmirror [flags] COMMAND PATH

commands:
  watch PATH   print the node's value, then every change, until interrupted
  tree PATH    print the subtree at PATH, then every change in it, until interrupted
  get PATH     print the node's value and stat (with -children: its children)

flags (before or after the command):
`

// options are the parsed command line.
type options struct {
	cmd, path string
	servers   []string
	chroot    string
	json      bool
	children  bool
	depth     int
	debounce  time.Duration
	timeout   time.Duration
}

// cli is one run of the command: its options and where it writes.
type cli struct {
	options
	stdout, stderr io.Writer
	m              *zkmirror.Mirror
}

// run runs the command line args and returns the exit status. stdout gets the results,
// stderr the messages and connection state changes. run returns once every goroutine it
// started has ended.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case err != nil:
		return exitUsage // parseArgs printed why
	}

	var opts []zkmirror.Option
	if o.chroot != "" {
		opts = append(opts, zkmirror.WithChroot(o.chroot))
	}
	m, err := zkmirror.Connect(o.servers, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "zkmirror: %v\n", err)
		return exitRuntime
	}
	defer m.Close()

	// Show the connection's state changes on stderr until the command is done.
	statesCtx, stopStates := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { showStates(m.States(statesCtx), strings.Join(o.servers, ","), stderr) })
	defer func() {
		stopStates()
		wg.Wait()
	}()

	c := &cli{options: o, stdout: stdout, stderr: stderr, m: m}
	switch o.cmd {
	case "watch":
		err = c.watch(ctx)
	case "tree":
		err = c.tree(ctx)
	case "get":
		err = c.get(ctx)
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, zkmirror.ErrInvalidPath):
		fmt.Fprintf(stderr, "zkmirror: %v\n", err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "zkmirror: %v\n", err)
		return exitRuntime
	}
}

// parseArgs parses flags wherever they are among the command and the path.
func parseArgs(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("zkmirror", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	servers := fs.String("servers", defaultServers(), "ZooKeeper servers: a comma-separated host:port `list`, optionally followed by a chroot path (h1:2181,h2:2181/app)")
	fs.BoolVar(&o.json, "json", false, "print one JSON object per line")
	fs.BoolVar(&o.children, "children", false, "watch, get: the node's children instead of its value")
	fs.IntVar(&o.depth, "depth", -1, "tree: levels below PATH to mirror (-1: all)")
	fs.DurationVar(&o.debounce, "debounce", 0, "watch: print a state once it has held this long; tree: print changes at most this often")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "how long to wait for ZooKeeper to answer first")

	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return o, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}

	usageErr := func(format string, a ...any) (options, error) {
		err := fmt.Errorf(format, a...)
		fmt.Fprintf(stderr, "zkmirror: %v\n", err)
		fmt.Fprintln(stderr, "run zkmirror -h for usage")
		return o, err
	}
	if len(pos) == 0 {
		fs.Usage()
		return o, errors.New("no command")
	}
	o.cmd = pos[0]
	switch o.cmd {
	case "watch", "tree", "get":
	default:
		return usageErr("unknown command %q (want watch, tree or get)", o.cmd)
	}
	if len(pos) != 2 {
		return usageErr("%s takes one PATH, got %d arguments", o.cmd, len(pos)-1)
	}
	o.path = pos[1]
	if !strings.HasPrefix(o.path, "/") {
		return usageErr("PATH %q must start with /", o.path)
	}
	hosts, chroot, _ := strings.Cut(*servers, "/")
	if chroot != "" {
		o.chroot = "/" + chroot
	}
	for _, h := range strings.Split(hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			o.servers = append(o.servers, h)
		}
	}
	switch {
	case len(o.servers) == 0:
		return usageErr("-servers names no server")
	case o.timeout <= 0:
		return usageErr("-timeout must be positive")
	case o.debounce < 0:
		return usageErr("-debounce must not be negative")
	case o.debounce > 0 && o.cmd == "get":
		return usageErr("-debounce does not apply to get")
	case o.children && o.cmd == "tree":
		return usageErr("-children does not apply to tree")
	case o.depth < -1:
		return usageErr("-depth must be -1 (all) or more")
	case o.depth != -1 && o.cmd != "tree":
		return usageErr("-depth applies to tree only")
	}
	return o, nil
}

func defaultServers() string {
	if s := os.Getenv("ZOOKEEPER_SERVERS"); s != "" {
		return s
	}
	return "127.0.0.1:2181"
}

// showStates prints each connection state change until states closes.
func showStates(states <-chan zkmirror.State, servers string, w io.Writer) {
	for st := range states {
		var msg string
		switch st {
		case zkmirror.StateConnecting:
			msg = "connecting to " + servers
		case zkmirror.StateConnected:
			msg = "connected"
		case zkmirror.StateSuspended:
			msg = "disconnected; reconnecting (the session may live: data kept)"
		case zkmirror.StateLost:
			msg = "still disconnected after the session timeout: data may be stale"
		case zkmirror.StateExpired:
			msg = "session expired; re-reading everything on the new session"
		case zkmirror.StateAuthFailed:
			msg = "authentication failed"
		case zkmirror.StateClosed:
			continue
		default:
			msg = "state " + st.String()
		}
		fmt.Fprintf(w, "zkmirror: %s\n", msg)
	}
}

// firstContact waits up to the timeout for wait, which returns once ZooKeeper has answered
// for the path, and turns a timeout into a clear message.
func (c *cli) firstContact(ctx context.Context, wait func(context.Context) error) error {
	tctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	err := wait(tctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, zkmirror.ErrTimeout) && ctx.Err() != nil:
		return errInterrupted
	case errors.Is(err, zkmirror.ErrTimeout) && c.m.State() != zkmirror.StateConnected:
		return fmt.Errorf("no ZooKeeper server answered at %s within %v", strings.Join(c.servers, ","), c.timeout)
	case errors.Is(err, zkmirror.ErrTimeout):
		return fmt.Errorf("%s %s: ZooKeeper did not answer within %v", c.cmd, c.path, c.timeout)
	}
	return err
}
