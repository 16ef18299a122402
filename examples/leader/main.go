// Command leader shows who leads an election held in ZooKeeper, live. Candidates are the
// children of an election node, each an ephemeral sequential node holding its owner's id;
// the one with the lowest sequence number leads. When the leader's process ends (or its
// session expires), its node goes and the next candidate leads.
//
// Follow the election:
//
//	go run ./examples/leader -servers 127.0.0.1:2181 -path /demo/election
//
// Take part in it too (run it in several terminals, stop the leader with Ctrl-C):
//
//	go run ./examples/leader -servers 127.0.0.1:2181 -join -id alice
//
// It prints lines such as
//
//	joined as n_0000000007 (id alice)
//	leader: bob (n_0000000006), 2 candidates
//	leader: alice (n_0000000007), 1 candidate
//	I am the leader
//
// and ends cleanly on Ctrl-C (SIGINT) or SIGTERM, withdrawing its candidacy.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zkmirror/zkmirror"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		stop()
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "leader:", err)
		os.Exit(1)
	}
}

// candidatePrefix starts every candidate's node name; ZooKeeper appends a 10-digit sequence
// number to it.
const candidatePrefix = "n_"

// run parses the command line, connects and follows the election (taking part in it with
// -join), printing to stdout, until ctx ends. An end of ctx is a clean end, whenever it comes
// (while joining too): run then withdraws any candidacy, closes the session and returns nil.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	host, _ := os.Hostname()
	fs := flag.NewFlagSet("leader", flag.ContinueOnError)
	servers := fs.String("servers", "127.0.0.1:2181", "ZooKeeper servers, comma-separated host:port")
	path := fs.String("path", "/demo/election", "the election node; candidates are its children")
	join := fs.Bool("join", false, "take part in the election")
	id := fs.String("id", fmt.Sprintf("%s-%d", host, os.Getpid()), "this candidate's id, stored in its node (with -join)")
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
	defer m.Close() // ends the session: a candidate node left behind goes with it

	e := &election{m: m, path: *path, id: *id, out: stdout}
	return e.follow(ctx, *join)
}

// election follows (and with join, takes part in) the election at path.
type election struct {
	m    *zkmirror.Mirror
	path string
	id   string
	out  io.Writer

	own      *zkmirror.Node // our candidate node, nil when not a candidate
	mine     string         // its name
	reported bool           // a report was printed; leader and count are what it said
	leader   string         // the leader's node name, "" when none
	count    int            // the number of candidates
	isLeader bool           // we lead
}

// follow reports the election until ctx ends, then returns nil; with join it takes part,
// joining again whenever its candidate node vanishes.
func (e *election) follow(ctx context.Context, join bool) error {
	dir, err := e.m.Node(e.path)
	if err != nil {
		return err
	}
	defer dir.Close()
	// The candidates, live: the current children first, then every change.
	candidates := dir.WatchChildren(ctx)

	// With -join, our own node is watched too: should it vanish (our session expired, or
	// someone deleted it) we join again.
	var own <-chan zkmirror.Value
	if join {
		defer e.withdraw()
		if own, err = e.join(ctx); err != nil {
			return e.joinFailed(ctx, err)
		}
	}

	for {
		select {
		case c, ok := <-candidates:
			if !ok {
				return e.ended(ctx)
			}
			e.report(ctx, c)
		case v, ok := <-own:
			if !ok {
				own = nil // ctx ended: candidates closes too
				continue
			}
			if v.Exists {
				continue
			}
			fmt.Fprintf(e.out, "our candidate node %s is gone; joining again\n", displayName(e.mine))
			if own, err = e.join(ctx); err != nil {
				return e.joinFailed(ctx, err)
			}
		}
	}
}

func (e *election) ended(ctx context.Context) error {
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("following %s: %w", e.path, zkmirror.ErrClosed)
}

// joinFailed returns the error of a failed join: none when ctx ended (Ctrl-C while joining
// is a clean end), otherwise err, wrapped.
func (e *election) joinFailed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("joining the election at %s: %w", e.path, err)
}

// join creates our candidate node and returns the stream of its states.
func (e *election) join(ctx context.Context) (<-chan zkmirror.Value, error) {
	if err := createAll(ctx, e.m, e.path); err != nil {
		return nil, err
	}
	n, err := e.m.Node(e.path + "/" + candidatePrefix)
	if err != nil {
		return nil, err
	}
	defer n.Close()
	// Ephemeral: the node lives as long as our session. Sequential: ZooKeeper appends the
	// sequence number that orders the candidates. Together, the create is protected: were
	// the reply lost, the mirror would find the node it made rather than leave an orphan.
	created, err := n.Create(ctx, []byte(e.id), zkmirror.Ephemeral(), zkmirror.Sequential())
	if err != nil {
		return nil, err
	}
	e.mine = created[strings.LastIndexByte(created, '/')+1:]
	fmt.Fprintf(e.out, "joined as %s (id %s)\n", displayName(e.mine), e.id)

	if e.own != nil {
		e.own.Close() // the handle on our previous node, if any
	}
	if e.own, err = e.m.Node(created); err != nil {
		return nil, err
	}
	return e.own.Watch(ctx), nil
}

// withdraw deletes our candidate node so the next candidate leads at once, rather than
// once our session has gone, and releases the handle on it.
func (e *election) withdraw() {
	if e.own == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	e.own.Delete(ctx, -1) // if this fails, closing the session removes the node anyway
	e.own.Close()
}

// report prints the leader when it or the number of candidates changed, and whether we lead.
func (e *election) report(ctx context.Context, c zkmirror.Children) {
	names := candidates(c.Names)
	leader := ""
	if len(names) > 0 {
		leader = names[0]
	}
	if !e.reported || leader != e.leader || len(names) != e.count {
		e.reported, e.leader, e.count = true, leader, len(names)
		switch {
		case c.Err != nil:
			fmt.Fprintf(e.out, "election: cannot read %s: %v\n", e.path, c.Err)
		case leader == "":
			fmt.Fprintln(e.out, "leader: none")
		default:
			fmt.Fprintf(e.out, "leader: %s (%s), %s\n", e.idOf(ctx, leader), displayName(leader), plural(len(names), "candidate"))
		}
	}
	if e.mine == "" {
		return
	}
	if is := leader == e.mine; is != e.isLeader {
		e.isLeader = is
		if is {
			fmt.Fprintln(e.out, "I am the leader")
		} else {
			fmt.Fprintln(e.out, "I am no longer the leader")
		}
	}
}

// idOf reads the id a candidate stored in its node.
func (e *election) idOf(ctx context.Context, name string) string {
	if name == e.mine {
		return e.id
	}
	n, err := e.m.Node(e.path + "/" + name)
	if err != nil {
		return "?"
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	v, err := n.Value(ctx)
	if err != nil {
		return "?" // gone meanwhile: the next report shows the new leader
	}
	return string(v.Data)
}

// candidates returns the candidate node names among children, lowest sequence number
// first. A name is "n_" and 10 digits, or, from a protected create, "_c_" GUID "-n_" and 10
// digits; other children are ignored.
func candidates(children []string) []string {
	type cand struct {
		name string
		seq  int64
	}
	var cs []cand
	for _, name := range children {
		if seq, ok := sequence(name); ok {
			cs = append(cs, cand{name, seq})
		}
	}
	slices.SortFunc(cs, func(a, b cand) int { return cmp.Compare(a.seq, b.seq) })
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.name
	}
	return names
}

// sequence returns the sequence number ZooKeeper appended to a candidate's name.
func sequence(name string) (int64, bool) {
	base := displayName(name)
	if !strings.HasPrefix(base, candidatePrefix) || len(base) != len(candidatePrefix)+10 {
		return 0, false
	}
	seq, err := strconv.ParseInt(base[len(candidatePrefix):], 10, 64)
	return seq, err == nil && seq >= 0
}

// displayName drops the "_c_" GUID "-" marker of a protected create.
func displayName(name string) string {
	if strings.HasPrefix(name, "_c_") {
		if i := strings.IndexByte(name, '-'); i >= 0 {
			return name[i+1:]
		}
	}
	return name
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// createAll creates path and its missing parents, persistent and empty.
func createAll(ctx context.Context, m *zkmirror.Mirror, path string) error {
	for i := 1; i <= len(path); i++ {
		if i < len(path) && path[i] != '/' {
			continue
		}
		n, err := m.Node(path[:i])
		if err != nil {
			return err
		}
		_, err = n.Create(ctx, nil)
		n.Close()
		if err != nil && !errors.Is(err, zkmirror.ErrNodeExists) {
			return err
		}
	}
	return nil
}
