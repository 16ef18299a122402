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
//	-v                 also show the connection being made, and failed attempts, on stderr
//
// PATH and -servers are checked before anything is sent. Until the first answer the
// command retries within -timeout, then says why it got none (a refused connection, or no
// answer). Connection state changes after the first connection (a disconnect, an expiry)
// are shown on stderr; with -v, the first connection too.
//
// Data is printed by get as it is when it is text (valid UTF-8 without control characters
// other than newline and tab, not starting with a double quote), otherwise as a Go-quoted
// string on one line; watch and tree always quote data that is not plain one-line text.
// With -json, "data" holds the data when it is valid UTF-8 and "data_base64" (standard
// base64) otherwise; a missing node is {"path":...,"exists":false}.
//
// Exit status: 0 on success (watch and tree: when interrupted); 1 for a runtime failure:
// ZooKeeper does not answer in time, get finds no node (with -json it still prints the
// object), or another error occurs; 2 for a usage or input error: bad flags or command, a
// bad PATH, or a -servers list that names no server or an address that cannot be parsed or
// resolved.
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

output:
  get prints the data as it is when it is text (valid UTF-8 without control characters
  other than newline and tab, not starting with a double quote), otherwise as a Go-quoted
  string on one line ("\xff\x00"), then the stat. watch and tree quote data that is not
  plain one-line text. With -json: one object per line; "data" holds the data when it is
  valid UTF-8, "data_base64" (standard base64) otherwise; a missing node prints
  {"path":...,"exists":false} (get then exits 1).

exit status:
  0  success (watch, tree: when interrupted)
  1  runtime failure: no ZooKeeper answer within -timeout, get finds no node, other errors
  2  usage or input error: bad flags or command, bad PATH, a -servers list that names no
     server or an address that cannot be parsed or resolved

flags (before or after the command):
`

// options are the parsed command line.
type options struct {
	cmd, path string
	servers   []string
	serverArg string // -servers as given
	chroot    string
	json      bool
	children  bool
	depth     int
	debounce  time.Duration
	timeout   time.Duration
	verbose   bool
	snapshot  string // -snapshot FILE: serve the last-known-good state while no server answers
}

// cli is one run of the command: its options, where it writes, and the handle its command
// uses (a Node, or a Tree for the tree command).
type cli struct {
	options
	stdout, stderr io.Writer
	m              *zkmirror.Mirror
	dial           *dialer
	node           *zkmirror.Node
	tree           *zkmirror.Tree
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

	// Nothing is dialled before the command's input is checked: the Mirror's dialer waits
	// for the handle to exist.
	var dialLog io.Writer
	if o.verbose {
		dialLog = stderr
	}
	d := newDialer(dialLog)
	opts := []zkmirror.Option{zkmirror.WithDialer(d.dial)}
	if o.chroot != "" {
		opts = append(opts, zkmirror.WithChroot(o.chroot))
	}
	if o.snapshot != "" {
		opts = append(opts, zkmirror.WithSnapshotFile(o.snapshot))
	}
	m, err := zkmirror.Connect(o.servers, opts...)
	if err != nil {
		d.stop()
		fmt.Fprintf(stderr, "zkmirror: -servers %q: %s\n", o.serverArg, reason(err))
		return exitUsage
	}
	defer m.Close()
	defer d.stop() // before Close: a dial waiting for release gives up

	c := &cli{options: o, stdout: stdout, stderr: stderr, m: m, dial: d}
	if err := c.open(); err != nil {
		if errors.Is(err, zkmirror.ErrInvalidPath) {
			fmt.Fprintf(stderr, "zkmirror: invalid PATH %q: %s\n", o.path, reason(err))
			return exitUsage
		}
		fmt.Fprintf(stderr, "zkmirror: %v\n", err)
		return exitRuntime
	}
	defer c.close()

	// Show the connection's state changes on stderr until the command is done.
	statesCtx, stopStates := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	states := m.States(statesCtx)
	wg.Go(func() { showStates(states, strings.Join(o.servers, ","), o.verbose, stderr) })
	defer func() {
		stopStates()
		wg.Wait()
	}()
	d.release()

	switch o.cmd {
	case "watch":
		err = c.watch(ctx)
	case "tree":
		err = c.runTree(ctx)
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

// restored reports whether the command's handle holds its path's state from the -snapshot
// file, unconfirmed by a server.
func (c *cli) restored() bool {
	if c.snapshot == "" {
		return false
	}
	if c.tree != nil {
		v, ok := c.tree.Get(c.path)
		return ok && v.Restored
	}
	now, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	if c.children {
		k, err := c.node.Children(now)
		return err == nil && k.Restored
	}
	v, err := c.node.Value(now)
	return (err == nil || errors.Is(err, zkmirror.ErrNoNode)) && v.Restored
}

// open makes the handle the command uses, which checks the path.
func (c *cli) open() error {
	var err error
	if c.cmd == "tree" {
		var opts []zkmirror.TreeOption
		if c.depth >= 0 {
			opts = append(opts, zkmirror.MaxDepth(c.depth))
		}
		c.tree, err = c.m.Tree(c.path, opts...)
	} else {
		c.node, err = c.m.Node(c.path)
	}
	return err
}

func (c *cli) close() {
	if c.tree != nil {
		c.tree.Close()
	}
	if c.node != nil {
		c.node.Close()
	}
}

// reason is what a zkmirror error says beyond the operation and the input, which the CLI
// names itself. The library's errors read "zkmirror: OP [INPUT]: REASON": "empty node name"
// for `zkmirror: invalid path /a//b: empty node name`, `bad server address "h:x": bad port`
// for `zkmirror: connect: bad server address "h:x": bad port`. A path may itself hold ": ",
// a path error's reason never does.
func reason(err error) string {
	msg := strings.TrimPrefix(err.Error(), "zkmirror: ")
	i := strings.Index(msg, ": ")
	if errors.Is(err, zkmirror.ErrInvalidPath) {
		i = strings.LastIndex(msg, ": ")
	}
	if i < 0 {
		return msg
	}
	return msg[i+2:]
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
	fs.BoolVar(&o.verbose, "v", false, "also show the connection being made, and failed attempts, on stderr")
	fs.StringVar(&o.snapshot, "snapshot", "", "keep what is mirrored in `FILE` (mode 0600) and, while no server answers, start from it: such states are marked [restored] (\"restored\": true in -json)")

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
	o.serverArg = *servers
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

// showStates prints each connection state change until states closes: with verbose, all
// of them; otherwise those after the first connection.
func showStates(states <-chan zkmirror.State, servers string, verbose bool, w io.Writer) {
	connected := false
	for st := range states {
		var msg string
		switch st {
		case zkmirror.StateConnecting:
			if !verbose {
				continue
			}
			msg = "connecting to " + servers
		case zkmirror.StateConnected:
			switch {
			case connected:
				msg = "reconnected"
			case verbose:
				msg = "connected"
			}
			connected = true
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
		if msg != "" {
			fmt.Fprintf(w, "zkmirror: %s\n", msg)
		}
	}
}

// firstContact waits up to the timeout for a session, then for wait, which returns once
// ZooKeeper has answered for the path, and turns a timeout into a clear message.
func (c *cli) firstContact(ctx context.Context, wait func(context.Context) error) error {
	// With -snapshot and no server answering within -timeout, the command goes on from the
	// state the snapshot file holds for its path, if it holds any.
	tctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	err := c.m.WaitConnected(tctx)
	if err == nil || errors.Is(err, zkmirror.ErrAuthFailed) {
		err = wait(tctx) // without the refused credential, with the access the world has
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, zkmirror.ErrTimeout) && ctx.Err() != nil:
		return errInterrupted
	case errors.Is(err, zkmirror.ErrTimeout) && c.m.State() != zkmirror.StateConnected && c.restored():
		// -snapshot: the last-known-good state, marked as such, until a server answers.
		fmt.Fprintf(c.stderr, "zkmirror: %v; %s as the snapshot file %s has it\n",
			c.dial.noAnswer(c.servers, c.timeout), c.path, c.snapshot)
		if c.tree != nil {
			return nil // Synced means synced with a server: the tree goes on from the file
		}
		now, cancel := context.WithTimeout(ctx, time.Second) // answered from the file at once
		defer cancel()
		return wait(now)
	case errors.Is(err, zkmirror.ErrTimeout) && c.m.State() != zkmirror.StateConnected:
		return c.dial.noAnswer(c.servers, c.timeout)
	case errors.Is(err, zkmirror.ErrTimeout):
		return fmt.Errorf("%s %s: ZooKeeper did not answer within %v", c.cmd, c.path, c.timeout)
	}
	return err
}
