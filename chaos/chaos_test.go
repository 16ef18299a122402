package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/internal/zktest"
	"github.com/zkmirror/zkmirror/leaktest"
)

// The layout the writers churn: nParents parents under chaosData, nChildren possible children
// each. The last parent is volatile: the writers delete it with all its children in one
// transaction and create it again.
const (
	chaosRoot   = "/chaos"
	chaosData   = chaosRoot + "/d"
	chaosKeep   = chaosRoot + "/keep"
	chaosMarks  = chaosRoot + "/mark"
	chaosProbes = chaosRoot + "/probe"
	nParents    = 5
	nChildren   = 60
	nMirrors    = 3
	nWriters    = 2

	chaosSessionTimeout = 3 * time.Second
	chaosResyncJitter   = 0.1
)

func parentPath(p int) string           { return fmt.Sprintf("%s/p%d", chaosData, p) }
func childPath(p, k int) string         { return fmt.Sprintf("%s/p%d/c%02d", chaosData, p, k) }
func keepPath(i int) string             { return fmt.Sprintf("%s/m%d", chaosKeep, i) }
func volatilePath() string              { return parentPath(nParents - 1) }
func mirrorName(i int) string           { return "m" + strconv.Itoa(i) }
func markerPath(i, trial, n int) string { return fmt.Sprintf("%s/m%d-t%d-%d", chaosMarks, i, trial, n) }

type faultKind int

const (
	faultKillLeader faultKind = iota
	faultKillFollower
	faultRestartServer
	faultCutClient
	faultExpireClient
	faultPauseServer
	numFaultKinds
)

var faultNames = [numFaultKinds]string{
	faultKillLeader:    "kill leader",
	faultKillFollower:  "kill follower",
	faultRestartServer: "restart server (SIGTERM)",
	faultCutClient:     "cut a mirror's connections",
	faultExpireClient:  "blackhole a mirror past its session timeout",
	faultPauseServer:   "pause a server (SIGSTOP)",
}

// chaosMirror is one Mirror of the chaos test with everything it holds.
type chaosMirror struct {
	*mclient
	idx      int
	ws       []*watched
	recs     []*recorder
	reads    map[string][2]*recorder // checks the answers of Value and Children
	keep     *zkmirror.Node
	keepData string

	// per trial
	resyncs0  int64
	stateMark int
	forced    int // expiries forced in this trial
}

type chaosRun struct {
	t       *testing.T
	rng     *rand.Rand
	seed    uint64
	c       *zktest.Cluster
	admin   *zk.Conn
	writers []*zk.Conn
	mirrors []*chaosMirror
	paths   []string

	faults, skipped [numFaultKinds]int
	trialsRun       int
	pathsChecked    int
	forcedExpiries  int
	otherExpiries   int
	writeOK         atomic.Int64
	writeFailed     atomic.Int64
	readsDone       atomic.Int64
	readErrs        atomic.Int64
	readErrMu       sync.Mutex
	readErrSample   []string
}

// TestChaos runs ZKMIRROR_CHAOS_TRIALS trials (default 3) of random faults while writers
// churn a few hundred nodes and three Mirrors follow them; after each trial it checks that
// every mirrored path equals the ensemble, that no stream went back, that Resync snapshots
// followed each expiry and nothing else, and that Keep nodes came back.
// ZKMIRROR_CHAOS_SEED replays a fault schedule.
func TestChaos(t *testing.T) {
	leaktest.Check(t)
	trials := 3
	if s := os.Getenv("ZKMIRROR_CHAOS_TRIALS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			t.Fatalf("ZKMIRROR_CHAOS_TRIALS=%q: want a count of trials", s)
		}
		trials = n
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("ZKMIRROR_CHAOS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("ZKMIRROR_CHAOS_SEED=%q: %v", s, err)
		}
		seed = n
	}
	t.Logf("chaos: seed %d (ZKMIRROR_CHAOS_SEED=%d replays the fault schedule), %d trials", seed, seed, trials)
	fmt.Fprintf(os.Stderr, "chaos: seed %d, %d trials\n", seed, trials)

	start := time.Now()
	ch := &chaosRun{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, 0x6368616f73))}
	ch.c = startEnsemble(t)
	ch.admin = rawClient(t, ch.c.Addrs(), 20*time.Second)
	for range nWriters {
		ch.writers = append(ch.writers, rawClient(t, ch.c.Addrs(), 10*time.Second))
	}
	ch.setup()

	stopReaders := make(chan struct{})
	var readers sync.WaitGroup
	endReaders := sync.OnceFunc(func() {
		close(stopReaders)
		readers.Wait()
	})
	for _, cm := range ch.mirrors {
		readers.Add(1)
		go func() {
			defer readers.Done()
			ch.readLoop(cm, rand.New(rand.NewPCG(seed, uint64(cm.idx)+1000)), stopReaders)
		}()
	}
	t.Cleanup(endReaders) // before the mirrors close

	var durations []time.Duration
	for trial := 1; trial <= trials; trial++ {
		t0 := time.Now()
		ch.trial(trial)
		durations = append(durations, time.Since(t0))
		ch.trialsRun++
		if t.Failed() {
			t.Logf("chaos: stopping after trial %d of %d: it failed (seed %d)", trial, trials, seed)
			break
		}
	}

	endReaders()
	if n := ch.readErrs.Load(); n > 0 {
		t.Errorf("%d Value/Children reads failed, first ones:\n  %s", n, strings.Join(ch.readErrSample, "\n  "))
	}
	var all []*recorder
	snapshots := 0
	for _, cm := range ch.mirrors {
		all = append(all, cm.recs...)
		for _, r := range cm.recs {
			snapshots += r.total()
		}
		for _, rs := range cm.reads {
			all = append(all, rs[0], rs[1])
		}
	}
	violations := reportViolations(t, all...)

	var faultLines []string
	totalFaults := 0
	for k := range numFaultKinds {
		faultLines = append(faultLines, fmt.Sprintf("%s: %d (skipped %d)", faultNames[k], ch.faults[k], ch.skipped[k]))
		totalFaults += ch.faults[k]
	}
	var mean time.Duration
	for _, d := range durations {
		mean += d
	}
	if len(durations) > 0 {
		mean /= time.Duration(len(durations))
	}
	var stats []string
	for _, cm := range ch.mirrors {
		s := cm.m.Stats()
		stats = append(stats, fmt.Sprintf("%s: reads %d resyncs %d watches-lost %d conflated %d", cm.name, s.Reads, s.Resyncs, s.WatchesLost, s.Conflated))
	}
	t.Logf("chaos summary (seed %d): %d trials in %v (mean %v per trial); %d faults:\n  %s\n"+
		"paths checked against the ensemble: %d (%d paths x %d mirrors x %d trials, data and children, via Watch, WatchChildren, Value and Children)\n"+
		"expiries: %d forced, %d caused by server faults; snapshots recorded: %d; Value/Children reads checked: %d; monotonic violations: %d\n"+
		"writes: %d applied or refused by the server, %d failed in transit\n  %s",
		seed, ch.trialsRun, time.Since(start).Round(time.Second), mean.Round(100*time.Millisecond), totalFaults,
		strings.Join(faultLines, "\n  "),
		ch.pathsChecked, len(ch.paths), nMirrors, ch.trialsRun,
		ch.forcedExpiries, ch.otherExpiries, snapshots, ch.readsDone.Load(), violations,
		ch.writeOK.Load(), ch.writeFailed.Load(), strings.Join(stats, "\n  "))
}

// setup creates the tree, the Mirrors, their handles and Keep nodes, and waits for the
// initial load.
func (ch *chaosRun) setup() {
	t := ch.t
	for _, p := range []string{chaosRoot, chaosData, chaosKeep, chaosMarks, chaosProbes} {
		mustCreate(t, ch.admin, p, nil)
	}
	ch.paths = append(ch.paths, chaosData)
	for p := range nParents {
		mustCreate(t, ch.admin, parentPath(p), []byte("parent"))
		ch.paths = append(ch.paths, parentPath(p))
		for k := range nChildren {
			if k%2 == 0 {
				mustCreate(t, ch.admin, childPath(p, k), []byte("initial"))
			}
			ch.paths = append(ch.paths, childPath(p, k))
		}
	}
	for i := range nMirrors {
		ch.paths = append(ch.paths, keepPath(i))
	}
	settle(t, ch.c)
	ctx := ctxFor(t, time.Minute)
	for i := range nMirrors {
		mc := newProxied(t, ch.c, mirrorName(i),
			zkmirror.WithSessionTimeout(chaosSessionTimeout), zkmirror.WithResyncJitter(chaosResyncJitter))
		cm := &chaosMirror{mclient: mc, idx: i, reads: map[string][2]*recorder{}}
		keep, err := mc.m.Node(keepPath(i))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { keep.Close() })
		cm.keep, cm.keepData = keep, "keep-initial"
		if _, err := keep.Create(ctx, []byte(cm.keepData), zkmirror.Keep()); err != nil {
			t.Fatalf("%s: creating its Keep node: %v", mc.name, err)
		}
		for _, p := range ch.paths {
			w := watchPath(t, mc, p, false)
			cm.ws = append(cm.ws, w)
			cm.recs = append(cm.recs, w.data, w.kids)
			cm.reads[p] = [2]*recorder{
				newRecorder(mc.name+" Value "+p, false, false),
				newRecorder(mc.name+" Children "+p, false, false),
			}
		}
		ch.mirrors = append(ch.mirrors, cm)
	}
	var groups [][]*watched
	for _, cm := range ch.mirrors {
		groups = append(groups, cm.ws)
	}
	if diffs, _ := converge(ch.admin, 60*time.Second, groups...); len(diffs) > 0 {
		reportDiffs(t, "initial load", diffs)
		t.FailNow()
	}
}

// readLoop reads random paths of cm with Value and Children and checks each answer against
// the previous one for the path: the latest snapshot never goes back either.
func (ch *chaosRun) readLoop(cm *chaosMirror, rng *rand.Rand, stop <-chan struct{}) {
	fail := func(format string, args ...any) {
		ch.readErrs.Add(1)
		ch.readErrMu.Lock()
		if len(ch.readErrSample) < 10 {
			ch.readErrSample = append(ch.readErrSample, fmt.Sprintf(format, args...))
		}
		ch.readErrMu.Unlock()
	}
	for {
		select {
		case <-stop:
			return
		case <-time.After(time.Duration(1+rng.IntN(5)) * time.Millisecond):
		}
		w := cm.ws[rng.IntN(len(cm.ws))]
		rs := cm.reads[w.path]
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		v, err := w.node.Value(ctx)
		if err != nil && !errors.Is(err, zkmirror.ErrNoNode) {
			fail("%s: Value(%s): %v", cm.name, w.path, err)
		} else {
			rs[0].observe(valueSnap(v))
		}
		c, err := w.node.Children(ctx)
		if err != nil && !errors.Is(err, zkmirror.ErrNoNode) {
			fail("%s: Children(%s): %v", cm.name, w.path, err)
		} else {
			rs[1].observe(kidsSnap(c))
		}
		cancel()
		ch.readsDone.Add(2)
	}
}

// writeLoop mutates the tree at random until stop closes: sets, creates, deletes, deletes
// immediately followed by re-creations (same Version, new Czxid), multi-creates, the
// volatile parent's deletion with all its children in one transaction, and now and then the
// deletion of a Mirror's Keep node. Every failure is expected under faults.
func (ch *chaosRun) writeLoop(conn *zk.Conn, rng *rand.Rand, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-time.After(time.Duration(2+rng.IntN(6)) * time.Millisecond):
		}
		p, k := rng.IntN(nParents), rng.IntN(nChildren)
		data := []byte(fmt.Sprintf("w%x", rng.Uint32()))
		var err error
		switch x := rng.IntN(1000); {
		case x < 430:
			_, err = conn.Set(childPath(p, k), data, -1)
		case x < 630:
			_, err = conn.Create(childPath(p, k), data, 0, worldACL)
		case x < 790:
			err = conn.Delete(childPath(p, k), -1)
		case x < 870:
			if err = conn.Delete(childPath(p, k), -1); err == nil {
				_, err = conn.Create(childPath(p, k), data, 0, worldACL)
			}
		case x < 920:
			var ops []any
			for j := range 3 {
				ops = append(ops, &zk.CreateRequest{Path: childPath(p, (k+j*7)%nChildren), Data: data, Acl: worldACL})
			}
			_, err = conn.Multi(ops...)
		case x < 965:
			_, err = conn.Set(parentPath(p), data, -1)
		case x < 975:
			var names []string
			if names, _, err = conn.Children(volatilePath()); err == nil {
				var ops []any
				for _, n := range names {
					ops = append(ops, &zk.DeleteRequest{Path: volatilePath() + "/" + n, Version: -1})
				}
				ops = append(ops, &zk.DeleteRequest{Path: volatilePath(), Version: -1})
				_, err = conn.Multi(ops...)
			}
		case x < 997:
			_, err = conn.Create(volatilePath(), data, 0, worldACL)
		default:
			err = conn.Delete(keepPath(rng.IntN(nMirrors)), -1)
		}
		switch {
		case err == nil, errors.Is(err, zk.ErrNoNode), errors.Is(err, zk.ErrNodeExists), errors.Is(err, zk.ErrNotEmpty):
			ch.writeOK.Add(1)
		default:
			ch.writeFailed.Add(1)
		}
	}
}

// trial runs one trial: writers and faults, then healing and the checks.
func (ch *chaosRun) trial(n int) {
	t := ch.t
	c := ch.c
	tStart := time.Now()
	ctx := ctxFor(t, 10*time.Minute)

	// A new Keep value per trial, set through the mirror while all is well.
	for _, cm := range ch.mirrors {
		data := fmt.Sprintf("keep-m%d-trial-%d", cm.idx, n)
		deadline := time.Now().Add(60 * time.Second)
		for {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := cm.keep.Set(sctx, []byte(data), -1)
			cancel()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("trial %d: %s: setting its Keep node: %v", n, cm.name, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		cm.keepData = data
		cm.resyncs0 = cm.m.Stats().Resyncs
		cm.stateMark = cm.states.mark()
		cm.forced = 0
		for _, r := range cm.recs {
			r.resetWindow()
		}
	}

	stopWriters := make(chan struct{})
	var writers sync.WaitGroup
	endWriters := sync.OnceFunc(func() { close(stopWriters) })
	t.Cleanup(func() { // if the trial ends early, before the clients close
		endWriters()
		writers.Wait()
	})
	for i, conn := range ch.writers {
		writers.Add(1)
		go func() {
			defer writers.Done()
			ch.writeLoop(conn, rand.New(rand.NewPCG(ch.seed, uint64(n)<<8|uint64(i))), stopWriters)
		}()
	}

	var injected []string
	nFaults := 1 + ch.rng.IntN(3)
	for f := range nFaults {
		time.Sleep(time.Duration(200+ch.rng.IntN(800)) * time.Millisecond)
		kind := faultKind(ch.rng.IntN(int(numFaultKinds)))
		desc, ok := ch.inject(ctx, n, f, kind)
		if ok {
			ch.faults[kind]++
		} else {
			ch.skipped[kind]++
			desc += " (skipped)"
		}
		injected = append(injected, desc)
	}
	time.Sleep(time.Duration(300+ch.rng.IntN(700)) * time.Millisecond)
	faultsDone := time.Now()

	// Heal: every proxy forwards, every server runs, the ensemble serves.
	for _, cm := range ch.mirrors {
		cm.restore()
	}
	for _, s := range c.Servers {
		if s.Paused() {
			if err := s.Resume(); err != nil {
				t.Fatalf("trial %d: %v", n, err)
			}
		}
		if !s.Running() {
			if err := s.Start(); err != nil {
				t.Fatalf("trial %d: %v", n, err)
			}
		}
	}
	if err := c.WaitServing(90 * time.Second); err != nil {
		t.Fatalf("trial %d: %v", n, err)
	}
	endWriters()
	wdone := make(chan struct{})
	go func() { writers.Wait(); close(wdone) }()
	select {
	case <-wdone:
	case <-time.After(90 * time.Second):
		t.Fatalf("trial %d: the writers did not stop within 90s of the ensemble serving again", n)
	}

	for _, cm := range ch.mirrors {
		if !cm.waitConnected(90 * time.Second) {
			t.Errorf("trial %d: %s not connected 90s after the faults stopped: %v, transitions %s",
				n, cm.name, cm.m.State(), statesString(cm.states.since(cm.stateMark)))
		}
	}
	var groups [][]*watched
	for _, cm := range ch.mirrors {
		groups = append(groups, cm.ws)
	}
	diffs, checked := converge(ch.admin, 60*time.Second, groups...)
	ch.pathsChecked += checked
	reportDiffs(t, fmt.Sprintf("trial %d", n), diffs)
	if len(diffs) > 0 {
		// Whether the servers agree tells a mirror that missed a change from one that
		// mirrors a server whose data differs from the others'.
		t.Logf("trial %d: each server's view of the differing paths:\n  %s", n, strings.Join(nodeViews(ch.c, diffPaths(diffs, 4)), "\n  "))
	}
	converged := time.Now()

	// Keep nodes: back, ephemeral, with the latest data, owned by the current session. A
	// node of the expired session may outlive the client's news of the expiry until the
	// server commits the session's close (slowly when its leader was paused): the keeper
	// re-creates it once it goes, so the ownership is awaited, not sampled.
	for _, cm := range ch.mirrors {
		cur, err := currentOwner(ctx, cm.mclient, ch.admin, fmt.Sprintf("%s/m%d-t%d", chaosProbes, cm.idx, n))
		switch {
		case errors.Is(err, errProbeMissing):
			t.Errorf("trial %d: %s: %v; servers: %s", n, cm.name, err, serverViews(ch.c, fmt.Sprintf("%s/m%d-t%d", chaosProbes, cm.idx, n)))
			continue
		case err != nil:
			t.Errorf("trial %d: %s: %v", n, cm.name, err)
			continue
		}
		var ok bool
		var owner int64
		var data []byte
		if !waitUntil(30*time.Second, func() bool {
			ok, owner, data, err = ownerOf(ch.admin, keepPath(cm.idx))
			return err == nil && ok && owner == cur
		}) {
			if !ok {
				t.Errorf("trial %d: %s: its Keep node is missing (err %v)", n, cm.name, err)
			} else {
				t.Errorf("trial %d: %s: its Keep node is owned by %#x; the mirror's session is %#x", n, cm.name, owner, cur)
			}
			continue
		}
		if string(data) != cm.keepData {
			t.Errorf("trial %d: %s: its Keep node holds %q, want the latest data set through the mirror, %q", n, cm.name, data, cm.keepData)
		}
	}

	// Let resyncs finish, then account for them: Resync snapshots after an expiry, on every
	// path of that mirror, and on no mirror without one.
	quiet := 2*time.Second + time.Duration(chaosResyncJitter*float64(chaosSessionTimeout))
	prev := make([]int64, len(ch.mirrors))
	lastChange := time.Now()
	settled := waitUntil(60*time.Second, func() bool {
		changed := false
		for i, cm := range ch.mirrors {
			if r := cm.m.Stats().Resyncs; r != prev[i] {
				prev[i], changed = r, true
			}
		}
		if changed {
			lastChange = time.Now()
			return false
		}
		if time.Since(lastChange) < quiet {
			return false
		}
		for _, cm := range ch.mirrors {
			if cm.states.count(cm.stateMark, zkmirror.StateExpired) > 0 {
				for _, r := range cm.recs {
					if k, _, _ := r.window(); k == 0 {
						return false
					}
				}
			}
		}
		return true
	})
	if !settled {
		t.Errorf("trial %d: resyncs did not settle within 60s", n)
	}
	var summary []string
	for _, cm := range ch.mirrors {
		evs := cm.states.since(cm.stateMark)
		expired := cm.states.count(cm.stateMark, zkmirror.StateExpired)
		dRes := cm.m.Stats().Resyncs - cm.resyncs0
		withResync, maxResync, snaps := 0, 0, 0
		var missing []string
		for _, r := range cm.recs {
			k, _, cnt := r.window()
			snaps += cnt
			if k > 0 {
				withResync++
			} else if len(missing) < 5 {
				missing = append(missing, r.label)
			}
			maxResync = max(maxResync, k)
		}
		checkTransitions(t, n, cm, evs)
		if expired < cm.forced {
			t.Errorf("trial %d: %s: the ensemble expired its session %d times, but States showed %d Expired: %s",
				n, cm.name, cm.forced, expired, statesString(evs))
		}
		switch {
		case expired > 0:
			if dRes < 1 || dRes > int64(expired) {
				t.Errorf("trial %d: %s: %d expiries, but Stats().Resyncs grew by %d", n, cm.name, expired, dRes)
			}
			if withResync != len(cm.recs) {
				t.Errorf("trial %d: %s: after %d expiries only %d of %d streams emitted a Resync snapshot; without one: %v",
					n, cm.name, expired, withResync, len(cm.recs), missing)
			}
			if int64(maxResync) > dRes {
				t.Errorf("trial %d: %s: a stream emitted %d Resync snapshots over %d resyncs", n, cm.name, maxResync, dRes)
			}
		default:
			if dRes != 0 || withResync != 0 {
				t.Errorf("trial %d: %s: no expiry, yet Stats().Resyncs grew by %d and %d streams emitted Resync snapshots",
					n, cm.name, dRes, withResync)
			}
		}
		ch.forcedExpiries += cm.forced
		ch.otherExpiries += max(expired-cm.forced, 0)
		summary = append(summary, fmt.Sprintf("%s: expired %d (forced %d) resyncs +%d, %d snapshots, transitions %s",
			cm.name, expired, cm.forced, dRes, snaps, statesString(evs)))
	}
	var all []*recorder
	for _, cm := range ch.mirrors {
		all = append(all, cm.recs...)
		for _, rs := range cm.reads {
			all = append(all, rs[0], rs[1])
		}
	}
	for _, r := range all {
		if k, _ := r.violations(); k > 0 {
			t.Errorf("trial %d: monotonic rule broken (details at the end)", n)
			break
		}
	}
	t.Logf("trial %d: %v (faults %v, heal+converge %v): %s\n  %s", n, time.Since(tStart).Round(100*time.Millisecond),
		faultsDone.Sub(tStart).Round(100*time.Millisecond), converged.Sub(faultsDone).Round(100*time.Millisecond),
		strings.Join(injected, "; "), strings.Join(summary, "\n  "))
}

// checkTransitions checks the state machine of the contract: Expired is followed by
// Connected (or Closed), Lost only follows Suspended, Connecting never comes back.
func checkTransitions(t *testing.T, trial int, cm *chaosMirror, evs []stateEvent) {
	t.Helper()
	for i := 1; i < len(evs); i++ {
		prev, cur := evs[i-1].st, evs[i].st
		bad := false
		switch {
		case prev == zkmirror.StateExpired && cur != zkmirror.StateConnected && cur != zkmirror.StateClosed:
			bad = true
		case cur == zkmirror.StateLost && prev != zkmirror.StateSuspended:
			bad = true
		case cur == zkmirror.StateConnecting:
			bad = true
		}
		if bad {
			t.Errorf("trial %d: %s: transition %v -> %v breaks the state machine: %s", trial, cm.name, prev, cur, statesString(evs))
		}
	}
}

// inject applies one fault and returns its description, or false when it could not be
// applied (no leader at the moment, a mirror that could not mark its session).
func (ch *chaosRun) inject(ctx context.Context, trial, seq int, kind faultKind) (string, bool) {
	t := ch.t
	c := ch.c
	hold := func(minMs, spreadMs int) time.Duration {
		d := time.Duration(minMs+ch.rng.IntN(spreadMs)) * time.Millisecond
		time.Sleep(d)
		return d
	}
	switch kind {
	case faultKillLeader, faultKillFollower, faultRestartServer, faultPauseServer:
		// One server at a time: the ensemble is whole before it loses a member.
		if err := c.WaitServing(90 * time.Second); err != nil {
			t.Fatalf("trial %d: %v", trial, err)
		}
		var s *zktest.Server
		switch kind {
		case faultKillLeader:
			l, err := c.Leader()
			if err != nil {
				return faultNames[kind] + ": " + err.Error(), false
			}
			s = l
		case faultKillFollower:
			fs := c.Followers()
			if len(fs) == 0 {
				return faultNames[kind] + ": no follower", false
			}
			s = fs[ch.rng.IntN(len(fs))]
		default:
			s = c.Servers[ch.rng.IntN(len(c.Servers))]
		}
		mode := s.Mode()
		switch kind {
		case faultKillLeader, faultKillFollower:
			if err := s.Kill(); err != nil {
				t.Fatalf("trial %d: %v", trial, err)
			}
			d := hold(300, 2500)
			if err := s.Start(); err != nil {
				t.Fatalf("trial %d: restarting server %d: %v", trial, s.ID, err)
			}
			return fmt.Sprintf("%s: server %d (%s) down %v", faultNames[kind], s.ID, mode, d), true
		case faultRestartServer:
			if err := s.Stop(); err != nil {
				t.Fatalf("trial %d: %v", trial, err)
			}
			if err := s.Start(); err != nil {
				t.Fatalf("trial %d: restarting server %d: %v", trial, s.ID, err)
			}
			return fmt.Sprintf("%s: server %d (%s)", faultNames[kind], s.ID, mode), true
		default:
			if err := s.Pause(); err != nil {
				t.Fatalf("trial %d: %v", trial, err)
			}
			d := hold(300, 4000)
			if err := s.Resume(); err != nil {
				t.Fatalf("trial %d: %v", trial, err)
			}
			return fmt.Sprintf("%s: server %d (%s) for %v", faultNames[kind], s.ID, mode, d), true
		}
	case faultCutClient:
		cm := ch.mirrors[ch.rng.IntN(len(ch.mirrors))]
		times := 1 + ch.rng.IntN(3)
		for range times {
			cm.cut()
			hold(50, 600)
		}
		return fmt.Sprintf("%s: %s x%d", faultNames[kind], cm.name, times), true
	case faultExpireClient:
		cm := ch.mirrors[ch.rng.IntN(len(ch.mirrors))]
		marker := markerPath(cm.idx, trial, seq)
		mctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		owner, err := markSession(mctx, cm.mclient, ch.admin, marker)
		cancel()
		if err != nil {
			return fmt.Sprintf("%s: %s: %v", faultNames[kind], cm.name, err), false
		}
		start := time.Now()
		cm.blackhole()
		if err := waitMarkerGone(cm.mclient, ch.admin, marker, owner); err != nil {
			cm.restore()
			t.Errorf("trial %d: %v", trial, err)
			return faultNames[kind] + ": " + err.Error(), false
		}
		expiredAfter := time.Since(start)
		d := hold(0, 2500) // sometimes long enough for Lost
		cm.restore()
		cm.forced++
		return fmt.Sprintf("%s: %s expired after %v, held %v more", faultNames[kind], cm.name,
			expiredAfter.Round(time.Millisecond), d), true
	}
	panic("unknown fault")
}
