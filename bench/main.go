// Command bench measures zkmirror against hand-written go-zookeeper code doing the same job,
// in one run, on the same machine and the same ZooKeeper server, and prints a table of
// medians, mirror/raw ratios and targets.
//
//	go run ./bench                       # full run, about 10 minutes on 2 cores
//	go run ./bench -quick                # smoke run: small sizes, one repetition, no warm-up
//	go run ./bench -only latency,sync    # some scenarios
//	go run ./bench -out bench-results.json -reps 9
//	go run ./bench -servers 10.0.0.5:2181   # an existing ensemble (herd is skipped)
//	go run ./bench -profile /tmp/prof -only memory   # per-repetition profiles
//
// `make bench` runs `go run ./bench -out bench-results.json`.
//
// # Method
//
// Unless -servers is given, the program starts its own standalone ZooKeeper with
// internal/zktest (and a 3-server ensemble for the herd scenario), and stops every server
// when it ends, also on error or SIGINT. Each scenario runs a warm-up repetition, which is
// discarded, then -reps measured repetitions (each scenario has its own default). A
// repetition runs every side once — the mirror and the raw code — and the order alternates
// from one repetition to the next, so slow drift of a noisy machine hits both sides alike.
// Every repetition uses fresh connections, closes them and joins its goroutines; the garbage
// collector runs between repetitions. The table shows medians over the measured repetitions
// (latency percentiles are taken over every measured sample), the ratio of the medians
// mirror/raw, the interquartile range of the per-repetition ratios (each repetition's
// mirror value over its raw value: how much the ratio moves from one repetition to the
// next), the target and PASS or MISS. The -out JSON file holds every sample, warm-up ones
// included (flagged), and the rows of the table.
//
// The raw side is the best straightforward go-zookeeper code for the same job, not a
// strawman: it holds the same watches and keeps the same data. In the loading scenarios
// (sync, resync, memory) its reads are pipelined on one connection by as many goroutines as
// the mirror's default read concurrency (64). In churn it runs what hand-written watch code
// runs, a re-arm loop per node (1,000 goroutines, so up to 1,000 reads in flight against the
// mirror's 64), and in herd each raw client re-reads the changed paths one at a time as
// their watches fire.
//
// # Scenarios
//
// latency: one node; a third connection writes it. Time from just before the Set to the
// observer holding the new value: the mirror through Node.Watch, the raw code through a GetW
// re-arm loop on its own connection. p50 and p99 over all measured sets; targets mirror/raw
// ≤ 1.05 (p50) and ≤ 1.1 (p99). Also the process CPU time (user and system, getrusage) spent over the measured
// sets, divided by their number: the writer's Sets are in it on both sides.
//
// sync: initial load of a node with 10,000 children (100-byte data). Mirror: Mirror.Tree
// then Tree.Synced, after the session is up. Raw: ChildrenW on the root, then GetW and
// ChildrenW on every child, pipelined 64 deep, results kept in a map (the same reads and
// watches). Also MaxDepth(1) against ChildrenW + GetW on the root and GetW per child.
// Targets ≤ 0.9 for the Tree, ≤ 1.1 for MaxDepth(1). Also the process CPU time over the load divided by the reads the
// job takes (2 + one or two per child), the same count on both sides; the CPU time of the
// whole ZooKeeper server process over the same window, per read (/proc/<pid>/stat, in 10 ms
// ticks; only when the benchmark runs the server), which shows the server's share of the job;
// and the read and write system calls of the process per read (/proc/self/io; connection
// setup and teardown included, and every write call of the process, the Go runtime's own
// wake-ups too).
//
// fanout: 10,000 subscribers on one node (Node.Watch ×10,000, one goroutine each); the
// raw code is one GetW re-arm loop that hands every value to 10,000 one-slot conflating
// channels. Reported: Set → first and last subscriber, the spread last − first (target
// ≤ 1.0× raw and ≤ 5 ms), and the watches the server holds for it (Server.WatchCount minus the count before
// connecting; target 1).
//
// resync: 10,000 paths mirrored (one Node handle and AddValueWatcher each) over a
// zktest.Proxy; the proxy is blackholed past the session timeout (2 s) so the session
// expires; WithResyncJitter(0). Time from the new session's Connected state (Mirror.States)
// to every path having delivered its Resync=true snapshot. Its reference is the initial
// sync of the same 10,000 paths by the same Mirror in the same repetition (target
// resync/initial ≤ 1.1), and, when scenario sync ran with as many children, the median
// MaxDepth(1) load of scenario sync (about the same number of reads; same target; that load
// runs on a direct connection, the resync through the proxy, whose copying it includes). The raw
// code re-reads the same paths with GetW, pipelined 64 deep, from go-zookeeper's
// StateHasSession event after StateExpired (it does not call Sync, which the mirror does
// first).
//
// churn: 8 writer connections update 1,000 nodes as fast as they can, in 5 bursts of 2 s
// per repetition (each writer owns 125 nodes, so the last value of every node is known). The
// mirror watches every node (Node.Watch, one goroutine each); the raw code runs a GetW
// re-arm loop per node. Lag: from a burst's last write's reply to the moment every observed
// node held its final value (the time each node got its final value is recorded, so a node
// that was already current does not count late); a repetition's lag is the median of its 5
// bursts, because the lag of one burst is one event and varies by an order of magnitude on a
// busy machine. Target mirror/raw ≤ 2. The lag is also taken per node, from the
// acknowledgement of its own last write to the observer holding it (0 when the observer was
// first), as p50 and p99 over the nodes of a repetition: the delay of the observer's
// pipeline rather than one event. After every burst each node is checked against a fresh
// read from the server. Also reported: writes per second while each side observed (the
// writers share the 2 cores with the observer and ZooKeeper), reads issued per write, and
// the process CPU time from each burst's start until the observer holds every final value,
// divided by the number of changed values the observer received (the writers run in this
// process too, on both sides, so their CPU is in both figures; the ZooKeeper JVM's is in
// neither).
//
// memory: heap bytes per mirrored node at 100,000 nodes with 100-byte data: HeapAlloc after
// GC with the nodes loaded minus HeapAlloc after GC with only the connection up, divided by
// the number of nodes. Mirror: a Tree with default settings (data and children of every
// node). Raw: a map of path → data, Stat and child names, with GetW and ChildrenW on every
// node. Target ≤ 1.1. The nodes are created once per run with pipelined Multi batches.
//
// snapshot: the snapshot file (WithSnapshotFile) of the memory scenario's 100,000 nodes as a
// Tree. Load: from Connect with no server reachable to the Tree holding every node from the
// file, against the same Tree loaded from the server (Connect, session, Tree.Synced) in the
// same repetition. Also the file's size and bytes per node, and the Close of a Mirror with
// the option (which writes the file if anything changed since its last write) against one
// without. In churn, side mirror+file is the mirror with the option on, compared with the
// mirror without it. No targets.
//
// herd: 100 Mirrors in one process, each mirroring the same 200 paths (Node handles with
// AddValueWatcher), connected to a 3-server ensemble through one zktest.Proxy per server.
// The proxies are blackholed and every server is stopped, for longer than the session timeout
// (2 s); the servers are restarted, a writer changes all 200 paths, and the proxies stay
// blackholed for another session timeout: ZooKeeper restores sessions with a fresh timeout
// when it restarts, so without that the clients would come back in time and keep their
// sessions. Then the proxies open and all 100 clients find their sessions expired at once.
// Measured from that moment: the peak rate of requests the ensemble receives (Srvr's
// Received counter of every server, sampled every 100 ms) and the time until every Mirror
// holds every new value, and until the last client has its new session; with resync jitter
// 0.5 and 0, and for 100 raw clients that re-read their 200 paths (pipelined) as soon as
// their new session is up. The raw clients use go-zookeeper's default host list, which
// sleeps 1 s whenever it comes back round to the last server it was connected to, which it
// typically does right after the session-expired answer; that is most of their longer
// reconnect. No targets: the rows compare jitter 0.5 and 0 against the raw clients.
//
// # Profiles
//
// -cpuprofile FILE profiles the whole run; every repetition carries the pprof labels
// scenario and side (pprof -tagfocus side=mirror). -profile DIR writes one CPU profile per
// measured repetition and side, DIR/<scenario>[_<variant>]-<side>-<rep>.cpu.pprof, block and
// mutex profiles beside them (cumulative: see profile.go), and heap profiles while the memory
// scenario holds its nodes, DIR/memory-<side>.heap.pprof.
// -memprofile FILE writes the heap profile of the mirror's memory repetition (or of the end
// of the run when memory does not run).
//
// -read-concurrency N sets the mirror's WithReadConcurrency and the raw code's pipeline
// depth together (default 64, the mirror's default).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"go.uber.org/goleak"

	"github.com/zkmirror/zkmirror/internal/zktest"
)

// sizes are the scenario parameters; -quick shrinks them.
type sizes struct {
	latencySets    int
	syncChildren   int
	fanoutSubs     int
	fanoutSets     int
	resyncPaths    int
	resyncTimeout  time.Duration
	memoryNodes    int
	churnNodes     int
	churnWriters   int
	churnFor       time.Duration // per burst
	churnBursts    int
	herdMirrors    int
	herdPaths      int
	herdTimeout    time.Duration
	herdJitterHigh float64
}

func fullSizes() sizes {
	return sizes{
		latencySets:    300,
		syncChildren:   10_000,
		fanoutSubs:     10_000,
		fanoutSets:     20,
		resyncPaths:    10_000,
		resyncTimeout:  2 * time.Second,
		memoryNodes:    100_000,
		churnNodes:     1_000,
		churnWriters:   8,
		churnFor:       2 * time.Second,
		churnBursts:    5,
		herdMirrors:    100,
		herdPaths:      200,
		herdTimeout:    2 * time.Second,
		herdJitterHigh: 0.5,
	}
}

func quickSizes() sizes {
	s := fullSizes()
	s.latencySets = 50
	s.syncChildren = 1_000
	s.fanoutSubs = 1_000
	s.fanoutSets = 5
	s.resyncPaths = 1_000
	s.memoryNodes = 10_000
	s.churnFor = time.Second
	s.churnBursts = 2
	s.herdMirrors = 10
	s.herdPaths = 50
	return s
}

// scenario is one benchmark.
type scenario struct {
	name string
	run  func(e *env) error
}

// scenarios, in the order they run. memory comes after the others that use the standalone
// server, so its 100,000 nodes do not weigh on them.
var scenarios = []scenario{
	{"latency", runLatency},
	{"sync", runSync},
	{"fanout", runFanout},
	{"resync", runResync},
	{"churn", runChurn},
	{"memory", runMemory},
	{"snapshot", runSnapshot},
	{"herd", runHerd},
}

// env is what every scenario gets.
type env struct {
	ctx      context.Context
	quick    bool
	repsFlag int
	sz       sizes
	servers  []string       // the standalone server, or -servers
	server   *zktest.Server // nil with -servers
	admin    *rawConn       // for fixtures and checks
	rec      *recorder
	prof     *profiler
}

// rep identifies a repetition: n counts measured ones from 0; the warm-up is n = -1.
type rep struct {
	n    int
	warm bool
}

// repeat runs a warm-up repetition and the measured ones; each runs every side once, in an
// order that rotates from one repetition to the next.
func (e *env) repeat(scn, variant string, sides []string, defReps int, run func(ctx context.Context, side string, r rep) error) error {
	reps, warm := defReps, 1
	if e.repsFlag > 0 {
		reps = e.repsFlag
	}
	if e.quick {
		reps, warm = 1, 0
	}
	label := scn
	if variant != "" {
		label += "/" + variant
	}
	for i := range warm + reps {
		order := slices.Clone(sides)
		k := i % len(order)
		order = append(order[k:], order[:k]...)
		for _, side := range order {
			if err := e.ctx.Err(); err != nil {
				return err
			}
			runtime.GC()
			r := rep{n: i - warm, warm: i < warm}
			what := fmt.Sprintf("rep %d/%d", i-warm+1, reps)
			if r.warm {
				what = "warm-up"
			}
			logf("%s: %s %s", label, what, side)
			start := time.Now()
			err := e.prof.run(e.ctx, label, side, r, func(ctx context.Context) error { return run(ctx, side, r) })
			if err != nil {
				return fmt.Errorf("%s, %s: %w", what, side, err)
			}
			logf("%s: %s %s done in %v", label, what, side, time.Since(start).Round(time.Millisecond))
		}
	}
	return nil
}

// put records a sample.
func (e *env) put(scn, variant, side string, r rep, metric, unit string, v float64) {
	e.rec.add(sample{Scenario: scn, Variant: variant, Side: side, Rep: r.n, Warmup: r.warm, Metric: metric, Unit: unit, Value: v})
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func main() {
	os.Exit(run())
}

func run() int {
	var (
		out        = flag.String("out", "", "write every sample and the table as JSON to this file")
		reps       = flag.Int("reps", 0, "measured repetitions per scenario (0: each scenario's default; a warm-up repetition is added)")
		quick      = flag.Bool("quick", false, "smoke run: small sizes, one repetition, no warm-up (numbers are not meaningful)")
		only       = flag.String("only", "", "comma-separated scenarios to run: "+scenarioNames())
		servers    = flag.String("servers", "", "use these ZooKeeper servers (host:port,...) instead of starting one; herd is skipped")
		cpuprofile = flag.String("cpuprofile", "", "write a CPU profile of the whole run (repetitions are labeled scenario=, side=)")
		memprofile = flag.String("memprofile", "", "write a heap profile taken while the mirror holds the memory scenario's nodes")
		profileDir = flag.String("profile", "", "write per-repetition CPU profiles and the memory scenario's heap profiles to this directory")
	)
	flag.IntVar(&readConcurrency, "read-concurrency", readConcurrency, "the mirror's WithReadConcurrency, and the raw code's pipeline depth")
	flag.Parse()
	if readConcurrency < 1 {
		fmt.Fprintln(os.Stderr, "bench: -read-concurrency must be at least 1")
		return 2
	}
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "bench: unexpected arguments %q\n", flag.Args())
		return 2
	}
	selected := map[string]bool{}
	if *only != "" {
		for _, n := range strings.Split(*only, ",") {
			n = strings.TrimSpace(n)
			if !slices.ContainsFunc(scenarios, func(s scenario) bool { return s.name == n }) {
				fmt.Fprintf(os.Stderr, "bench: unknown scenario %q (have %s)\n", n, scenarioNames())
				return 2
			}
			selected[n] = true
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, the next one kills the program the default way (the servers
	// die with it: zktest starts them with a parent-death signal).
	context.AfterFunc(ctx, stop)
	leakBaseline := goleak.IgnoreCurrent()

	prof, err := newProfiler(*cpuprofile, *memprofile, *profileDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}

	started := time.Now()
	rec := &recorder{}
	e := &env{ctx: ctx, quick: *quick, repsFlag: *reps, sz: fullSizes(), rec: rec, prof: prof}
	if *quick {
		e.sz = quickSizes()
	}
	code := func() int {
		if *servers != "" {
			e.servers = strings.Split(*servers, ",")
		} else {
			logf("starting ZooKeeper")
			c, err := zktest.StartStandalone(zktest.Options{JVMFlags: []string{"-Xmx1g"}})
			if err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
				return 1
			}
			defer func() {
				if err := c.Close(); err != nil {
					fmt.Fprintln(os.Stderr, "bench: stopping ZooKeeper:", err)
				}
			}()
			e.servers = c.Addrs()
			e.server = c.Servers[0]
		}
		admin, err := dialRaw(ctx, e.servers, 30*time.Second, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		defer admin.close()
		e.admin = admin

		failed := false
		for _, s := range scenarios {
			if len(selected) > 0 && !selected[s.name] {
				continue
			}
			if ctx.Err() != nil {
				break
			}
			if s.name == "herd" && e.server == nil {
				rec.addError("herd", errors.New("skipped: it stops and restarts its own ensemble, which -servers does not allow"))
				continue
			}
			logf("%s: start", s.name)
			start := time.Now()
			if err := s.run(e); err != nil {
				failed = true
				rec.addError(s.name, err)
				logf("%s: FAILED: %v", s.name, err)
				continue
			}
			logf("%s: done in %v", s.name, time.Since(start).Round(time.Second))
		}
		if ctx.Err() != nil {
			rec.addError("run", errors.New("interrupted"))
			failed = true
		}
		if failed {
			return 1
		}
		return 0
	}()

	if err := prof.finish(); err != nil {
		fmt.Fprintln(os.Stderr, "bench: profile:", err)
	}
	fmt.Println()
	if *quick {
		fmt.Println("quick run: small sizes, one repetition, no warm-up — not a measurement")
	}
	rec.printTable(os.Stdout)
	if *out != "" {
		rep := report{
			Started:  started,
			Duration: time.Since(started).Seconds(),
			Command:  os.Args,
			Env: map[string]string{
				"go":               runtime.Version(),
				"goos":             runtime.GOOS,
				"goarch":           runtime.GOARCH,
				"cpus":             fmt.Sprint(runtime.NumCPU()),
				"gomaxprocs":       fmt.Sprint(runtime.GOMAXPROCS(0)),
				"servers":          strings.Join(e.servers, ","),
				"quick":            fmt.Sprint(*quick),
				"read_concurrency": fmt.Sprint(readConcurrency),
			},
		}
		if err := rec.writeJSON(*out, rep); err != nil {
			fmt.Fprintln(os.Stderr, "bench: writing", *out+":", err)
			code = 1
		} else {
			logf("wrote %s", *out)
		}
	}
	stop()
	if err := goleak.Find(leakBaseline); err != nil {
		fmt.Fprintln(os.Stderr, "bench: goroutines left running:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func scenarioNames() string {
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.name
	}
	return strings.Join(names, ",")
}
