package chaos_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/internal/zktest"
)

var worldACL = zk.WorldACL(zk.PermAll)

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// startEnsemble starts a 3-node ensemble for one test; the test's cleanup closes it.
func startEnsemble(t testing.TB) *zktest.Cluster {
	t.Helper()
	c, err := zktest.StartEnsemble(3, ensembleOptions)
	if err != nil {
		t.Fatalf("starting a 3-node ensemble: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("closing the ensemble: %v", err)
		}
	})
	return c
}

// rawClient is a plain go-zookeeper client connected straight to the servers: the writers
// and the referee the mirrors are compared with. The test's cleanup closes it and waits for
// its goroutines.
func rawClient(t testing.TB, addrs []string, timeout time.Duration) *zk.Conn {
	t.Helper()
	conn, events, err := zk.Connect(addrs, timeout, zk.WithLogger(nopLogger{}), zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		for range events {
		}
	})
	if !waitUntil(30*time.Second, func() bool { return conn.State() == zk.StateHasSession }) {
		t.Fatalf("raw client to %v: no session after 30s (state %v)", addrs, conn.State())
	}
	return conn
}

// waitUntil polls f every 20 ms until it is true (true) or d has passed (false).
func waitUntil(d time.Duration, f func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if f() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// ringBuffer keeps the last bytes written to it: a Mirror's log, shown when a test fails.
type ringBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (r *ringBuffer) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.b = append(r.b, p...)
	if over := len(r.b) - r.max; over > 0 {
		r.b = append(r.b[:0], r.b[over:]...)
	}
	return len(p), nil
}

func (r *ringBuffer) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.b)
}

// mclient is one Mirror under test, connected through a proxy per server (or straight to
// the addresses given), with a recorder of its state transitions.
type mclient struct {
	name    string
	m       *zkmirror.Mirror
	proxies []*zktest.Proxy
	states  *stateRecorder
	log     *ringBuffer
}

// newProxied connects a Mirror to c through a new proxy per server.
func newProxied(t testing.TB, c *zktest.Cluster, name string, opts ...zkmirror.Option) *mclient {
	t.Helper()
	var proxies []*zktest.Proxy
	var addrs []string
	for _, s := range c.Servers {
		p, err := zktest.NewProxy(s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		proxies = append(proxies, p)
		addrs = append(addrs, p.Addr())
	}
	mc := newDirect(t, addrs, name, opts...)
	mc.proxies = proxies
	return mc
}

// newDirect connects a Mirror to addrs with no proxy in between.
func newDirect(t testing.TB, addrs []string, name string, opts ...zkmirror.Option) *mclient {
	t.Helper()
	log := &ringBuffer{max: 96 << 10}
	logger := slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts = append([]zkmirror.Option{zkmirror.WithLogger(logger)}, opts...)
	m, err := zkmirror.Connect(addrs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	mc := &mclient{name: name, m: m, log: log}
	mc.states = recordStates(m)
	t.Cleanup(func() {
		m.Close()
		<-mc.states.done
		if t.Failed() {
			t.Logf("--- end of the log of mirror %s ---\n%s", name, log.String())
		}
	})
	return mc
}

func (mc *mclient) cut() {
	for _, p := range mc.proxies {
		p.Cut()
	}
}

func (mc *mclient) blackhole() {
	for _, p := range mc.proxies {
		p.Blackhole(0)
	}
}

func (mc *mclient) restore() {
	for _, p := range mc.proxies {
		p.Restore()
	}
}

// waitConnected waits for the Mirror to hold a session.
func (mc *mclient) waitConnected(d time.Duration) bool {
	return waitUntil(d, func() bool { return mc.m.State() == zkmirror.StateConnected })
}

// stateRecorder reads a Mirror's States channel from the start to its close and keeps every
// transition with the time it was received.
type stateRecorder struct {
	mu     sync.Mutex
	events []stateEvent
	done   chan struct{}
}

type stateEvent struct {
	st zkmirror.State
	at time.Time
}

func recordStates(m *zkmirror.Mirror) *stateRecorder {
	r := &stateRecorder{done: make(chan struct{})}
	ch := m.States(context.Background()) // closes after StateClosed
	go func() {
		defer close(r.done)
		for st := range ch {
			r.mu.Lock()
			r.events = append(r.events, stateEvent{st, time.Now()})
			r.mu.Unlock()
		}
	}()
	return r
}

// mark returns a position; since returns the transitions recorded after it.
func (r *stateRecorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

func (r *stateRecorder) since(mark int) []stateEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events[mark:])
}

func (r *stateRecorder) count(mark int, st zkmirror.State) int {
	n := 0
	for _, e := range r.since(mark) {
		if e.st == st {
			n++
		}
	}
	return n
}

func statesString(evs []stateEvent) string {
	var parts []string
	var t0 time.Time
	for i, e := range evs {
		if i == 0 {
			t0 = e.at
		}
		parts = append(parts, fmt.Sprintf("%v@+%v", e.st, e.at.Sub(t0).Round(time.Millisecond)))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func stateList(evs []stateEvent) []zkmirror.State {
	out := make([]zkmirror.State, len(evs))
	for i, e := range evs {
		out[i] = e.st
	}
	return out
}

// snap is what the checks need of a Value or a Children snapshot.
type snap struct {
	at      time.Time
	exists  bool
	resync  bool
	czxid   int64
	zxid    int64 // Mzxid for data, Pzxid for children
	version int32 // Version for data, Cversion for children
	owner   int64
	data    []byte
	names   []string
	err     error
}

func valueSnap(v zkmirror.Value) snap {
	return snap{at: time.Now(), exists: v.Exists, resync: v.Resync, czxid: v.Stat.Czxid, zxid: v.Stat.Mzxid,
		version: v.Stat.Version, owner: v.Stat.EphemeralOwner, data: v.Data, err: v.Err}
}

func kidsSnap(c zkmirror.Children) snap {
	return snap{at: time.Now(), exists: c.Exists, resync: c.Resync, czxid: c.Stat.Czxid, zxid: c.Stat.Pzxid,
		version: c.Stat.Cversion, owner: c.Stat.EphemeralOwner, names: c.Names, err: c.Err}
}

func (s snap) String() string {
	if !s.exists {
		return fmt.Sprintf("{absent resync=%v err=%v}", s.resync, s.err)
	}
	body := fmt.Sprintf("data=%q", s.data)
	if s.names != nil {
		body = fmt.Sprintf("names=%v", s.names)
	}
	return fmt.Sprintf("{czxid=%#x zxid=%#x v=%d %s resync=%v err=%v}", s.czxid, s.zxid, s.version, body, s.resync, s.err)
}

// recorder checks one sequence of snapshots of one path and kind — a Watch or WatchChildren
// channel, or the successive answers of Value or Children — against the monotonic rule:
// (Czxid, Mzxid) for data and (Czxid, Pzxid) for children only grow; an equal snapshot is
// allowed on a channel only when flagged Resync (reads may repeat the latest snapshot); an
// absent snapshot is a deletion, after which a node shown again must be a new incarnation
// with a larger Czxid than every deleted one.
type recorder struct {
	label   string
	stream  bool // a snapshot channel, not a sequence of reads
	history bool // keep every snapshot

	mu       sync.Mutex
	has      bool
	last     snap
	tomb     int64
	count    int
	snaps    []snap
	winRes   int // Resync snapshots since the window was reset
	winFirst time.Time
	winCount int
	nviol    int
	viol     []string
	done     chan struct{}
}

func newRecorder(label string, stream, history bool) *recorder {
	return &recorder{label: label, stream: stream, history: history, done: make(chan struct{})}
}

const maxViolationsKept = 20

func (r *recorder) observe(s snap) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v := r.check(s); v != "" {
		r.nviol++
		if len(r.viol) < maxViolationsKept {
			r.viol = append(r.viol, fmt.Sprintf("%s: %s (previous %v, now %v)", r.label, v, r.last, s))
		}
	}
	if r.has && r.last.exists && !s.exists {
		r.tomb = max(r.tomb, r.last.czxid)
	}
	r.has, r.last = true, s
	r.count++
	r.winCount++
	if r.history {
		r.snaps = append(r.snaps, s)
	}
	if s.resync {
		if r.winRes == 0 {
			r.winFirst = s.at
		}
		r.winRes++
	}
}

func (r *recorder) check(s snap) string {
	if s.err != nil {
		return "snapshot carries an error"
	}
	if s.exists && s.czxid == 0 {
		return "an existing node with Czxid 0"
	}
	if !r.has {
		return ""
	}
	p := r.last
	switch {
	case s.exists && s.czxid <= r.tomb:
		return fmt.Sprintf("a deleted incarnation came back: Czxid %#x is not above the deleted %#x", s.czxid, r.tomb)
	case s.exists && p.exists:
		switch cmpZxid(s, p) {
		case -1:
			return "went back in (Czxid, zxid)"
		case 0:
			if r.stream && !s.resync {
				return "the same (Czxid, zxid) again without Resync"
			}
		}
	case !s.exists && !p.exists:
		if r.stream && !s.resync {
			return "absent again without Resync"
		}
	}
	return ""
}

func cmpZxid(a, b snap) int {
	if a.czxid != b.czxid {
		if a.czxid < b.czxid {
			return -1
		}
		return 1
	}
	switch {
	case a.zxid < b.zxid:
		return -1
	case a.zxid > b.zxid:
		return 1
	}
	return 0
}

func (r *recorder) latest() (snap, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last, r.has
}

func (r *recorder) all() []snap {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.snaps)
}

func (r *recorder) resetWindow() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.winRes, r.winFirst, r.winCount = 0, time.Time{}, 0
}

// window returns the Resync snapshots, the time of the first one and all snapshots since
// the last reset.
func (r *recorder) window() (resyncs int, first time.Time, count int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.winRes, r.winFirst, r.winCount
}

func (r *recorder) violations() (int, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nviol, slices.Clone(r.viol)
}

func (r *recorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count
}

// watched is one path held through a Node handle, its data and children channels drained
// by recorders.
type watched struct {
	path string
	node *zkmirror.Node
	data *recorder
	kids *recorder
}

// watchPath opens a handle on path and starts a recorder goroutine on each of its Watch and
// WatchChildren channels. The channels close, and the recorders end, when the Mirror closes.
func watchPath(t testing.TB, mc *mclient, path string, history bool) *watched {
	t.Helper()
	n, err := mc.m.Node(path)
	if err != nil {
		t.Fatal(err)
	}
	w := &watched{
		path: path, node: n,
		data: newRecorder(mc.name+" data "+path, true, history),
		kids: newRecorder(mc.name+" children "+path, true, history),
	}
	vch := n.Watch(context.Background())
	cch := n.WatchChildren(context.Background())
	go func() {
		defer close(w.data.done)
		for v := range vch {
			w.data.observe(valueSnap(v))
		}
	}()
	go func() {
		defer close(w.kids.done)
		for c := range cch {
			w.kids.observe(kidsSnap(c))
		}
	}()
	t.Cleanup(func() {
		n.Close()
		<-w.data.done
		<-w.kids.done
	})
	return w
}

// serverNode is what a fresh client reads of a path.
type serverNode struct {
	exists     bool
	data       []byte
	stat       zk.Stat
	kidsExists bool
	names      []string
	kstat      zk.Stat
}

// readServer reads paths with conn, after a Sync so that the server it reads from has every
// transaction committed before the call.
func readServer(conn *zk.Conn, paths []string) (map[string]serverNode, error) {
	if _, err := conn.Sync("/"); err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	out := make(map[string]serverNode, len(paths))
	for _, p := range paths {
		var n serverNode
		data, st, err := conn.Get(p)
		switch {
		case err == nil:
			n.exists, n.data, n.stat = true, data, *st
		case errors.Is(err, zk.ErrNoNode):
		default:
			return nil, fmt.Errorf("get %s: %w", p, err)
		}
		names, kst, err := conn.Children(p)
		switch {
		case err == nil:
			names = slices.Clone(names)
			slices.Sort(names)
			n.kidsExists, n.names, n.kstat = true, names, *kst
		case errors.Is(err, zk.ErrNoNode):
		default:
			return nil, fmt.Errorf("children %s: %w", p, err)
		}
		out[p] = n
	}
	return out, nil
}

// diffData compares a data snapshot with the server: existence, data, Version, Czxid, Mzxid
// and the ephemeral owner. "" when equal.
func diffData(s snap, n serverNode) string {
	switch {
	case s.err != nil:
		return fmt.Sprintf("mirror has error %v", s.err)
	case s.exists != n.exists:
		return fmt.Sprintf("mirror exists=%v, server exists=%v", s.exists, n.exists)
	case !s.exists:
		return ""
	case !bytes.Equal(s.data, n.data) || s.version != n.stat.Version || s.czxid != n.stat.Czxid ||
		s.zxid != n.stat.Mzxid || s.owner != n.stat.EphemeralOwner:
		return fmt.Sprintf("mirror %v, server {czxid=%#x mzxid=%#x v=%d data=%q owner=%#x}",
			s, n.stat.Czxid, n.stat.Mzxid, n.stat.Version, n.data, n.stat.EphemeralOwner)
	}
	return ""
}

// diffKids compares a children snapshot with the server: existence, names, Czxid, Pzxid and
// Cversion.
func diffKids(s snap, n serverNode) string {
	switch {
	case s.err != nil:
		return fmt.Sprintf("mirror has error %v", s.err)
	case s.exists != n.kidsExists:
		return fmt.Sprintf("mirror exists=%v, server exists=%v", s.exists, n.kidsExists)
	case !s.exists:
		return ""
	case !slices.Equal(s.names, n.names) || s.czxid != n.kstat.Czxid || s.zxid != n.kstat.Pzxid ||
		s.version != n.kstat.Cversion:
		return fmt.Sprintf("mirror %v, server {czxid=%#x pzxid=%#x cversion=%d names=%v}",
			s, n.kstat.Czxid, n.kstat.Pzxid, n.kstat.Cversion, n.names)
	}
	return ""
}

// diffWatched compares one mirrored path with the server three ways: the last snapshot each
// channel delivered and the answers of Value and Children. It returns the differences.
func diffWatched(ctx context.Context, w *watched, n serverNode) []string {
	var diffs []string
	add := func(what, d string) {
		if d != "" {
			diffs = append(diffs, fmt.Sprintf("%s %s: %s", what, w.path, d))
		}
	}
	if s, ok := w.data.latest(); !ok {
		add("Watch", "no snapshot received")
	} else {
		add("Watch", diffData(s, n))
	}
	if s, ok := w.kids.latest(); !ok {
		add("WatchChildren", "no snapshot received")
	} else {
		add("WatchChildren", diffKids(s, n))
	}
	v, err := w.node.Value(ctx)
	if err != nil && !errors.Is(err, zkmirror.ErrNoNode) {
		add("Value", fmt.Sprintf("error %v", err))
	} else {
		add("Value", diffData(valueSnap(v), n))
	}
	c, err := w.node.Children(ctx)
	if err != nil && !errors.Is(err, zkmirror.ErrNoNode) {
		add("Children", fmt.Sprintf("error %v", err))
	} else {
		add("Children", diffKids(kidsSnap(c), n))
	}
	return diffs
}

// converge polls until every watched path of every group equals what conn reads, or d
// passes. It returns the differences of the last comparison (none when converged) and the
// number of paths compared.
func converge(conn *zk.Conn, d time.Duration, groups ...[]*watched) (diffs []string, paths int) {
	var all []string
	seen := map[string]bool{}
	for _, g := range groups {
		for _, w := range g {
			if !seen[w.path] {
				seen[w.path] = true
				all = append(all, w.path)
			}
		}
	}
	deadline := time.Now().Add(d)
	for {
		diffs = diffs[:0]
		srv, err := readServer(conn, all)
		if err != nil {
			diffs = append(diffs, "reading the server: "+err.Error())
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			paths = 0
			for _, g := range groups {
				for _, w := range g {
					paths++
					diffs = append(diffs, diffWatched(ctx, w, srv[w.path])...)
				}
			}
			cancel()
		}
		if len(diffs) == 0 || time.Now().After(deadline) {
			return diffs, paths
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// reportDiffs fails t with at most a screenful of differences.
func reportDiffs(t testing.TB, what string, diffs []string) {
	t.Helper()
	if len(diffs) == 0 {
		return
	}
	shown := diffs[:min(len(diffs), 25)]
	t.Errorf("%s: %d differences between the mirror and the server, first ones:\n  %s",
		what, len(diffs), strings.Join(shown, "\n  "))
}

// reportViolations fails t for every monotonic-rule violation the recorders saw.
func reportViolations(t testing.TB, recs ...*recorder) int {
	t.Helper()
	total := 0
	var msgs []string
	for _, r := range recs {
		n, v := r.violations()
		total += n
		if len(msgs) < 30 {
			msgs = append(msgs, v...)
		}
	}
	if total > 0 {
		t.Errorf("%d snapshots broke the monotonic rule, first ones:\n  %s", total, strings.Join(msgs[:min(len(msgs), 30)], "\n  "))
	}
	return total
}

func recordersOf(ws ...*watched) []*recorder {
	var out []*recorder
	for _, w := range ws {
		out = append(out, w.data, w.kids)
	}
	return out
}

// ownerOf returns the ephemeral owner of path as conn reads it after a Sync (0 if absent).
func ownerOf(conn *zk.Conn, path string) (exists bool, owner int64, data []byte, err error) {
	if _, err := conn.Sync(path); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return false, 0, nil, err
	}
	d, st, err := conn.Get(path)
	if errors.Is(err, zk.ErrNoNode) {
		return false, 0, nil, nil
	}
	if err != nil {
		return false, 0, nil, err
	}
	return true, st.EphemeralOwner, d, nil
}

// errProbeMissing: an ephemeral node the mirror said it created is not seen by another
// client, even after a Sync and some patience.
var errProbeMissing = errors.New("an ephemeral node created through the mirror is missing")

// ownerEventually is ownerOf for a node just created by another client: it looks again for
// up to 5 s if the node is not there yet. A Sync should make that unnecessary; when it was
// needed, the delay is logged by the caller's failure message, never hidden.
func ownerEventually(conn *zk.Conn, path string) (exists bool, owner int64, err error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		exists, owner, _, err = ownerOf(conn, path)
		if (err == nil && exists) || time.Now().After(deadline) {
			return exists, owner, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// serverViews describes what each running server of c holds at path, read by a client
// connected to that server alone, after a Sync.
func serverViews(c *zktest.Cluster, path string) string {
	return strings.Join(onEachServer(c, func(conn *zk.Conn) string {
		ok, owner, _, err := ownerOf(conn, path)
		return fmt.Sprintf("exists=%v owner=%#x err=%v", ok, owner, err)
	}), "; ")
}

// onEachServer connects a client to each running server of c alone and returns, a line per
// server, what view says of it, or why it could not be asked.
func onEachServer(c *zktest.Cluster, view func(conn *zk.Conn) string) []string {
	var parts []string
	for _, s := range c.Servers {
		if !s.Running() || s.Paused() {
			parts = append(parts, fmt.Sprintf("server %d: down", s.ID))
			continue
		}
		mode := s.Mode()
		conn, events, err := zk.Connect([]string{s.Addr()}, 10*time.Second, zk.WithLogger(nopLogger{}), zk.WithLogInfo(false))
		if err != nil {
			parts = append(parts, fmt.Sprintf("server %d (%s): %v", s.ID, mode, err))
			continue
		}
		desc := "no session"
		if waitUntil(10*time.Second, func() bool { return conn.State() == zk.StateHasSession }) {
			desc = view(conn)
		}
		conn.Close()
		for range events {
		}
		parts = append(parts, fmt.Sprintf("server %d (%s): %s", s.ID, mode, desc))
	}
	return parts
}

// diffPaths returns the first n distinct paths that differences name ("Watch /a/b: …").
func diffPaths(diffs []string, n int) []string {
	var paths []string
	for _, d := range diffs {
		f := strings.Fields(d)
		if len(f) < 2 || !strings.HasPrefix(f[1], "/") {
			continue
		}
		p := strings.TrimSuffix(f[1], ":")
		if !slices.Contains(paths, p) {
			paths = append(paths, p)
		}
		if len(paths) == n {
			break
		}
	}
	return paths
}

// nodeViews reads each path from every running server on a connection of its own: its
// Stat and children as that server has them.
func nodeViews(c *zktest.Cluster, paths []string) []string {
	return onEachServer(c, func(conn *zk.Conn) string {
		var lines []string
		for _, p := range paths {
			names, st, err := conn.Children(p)
			if err != nil {
				lines = append(lines, fmt.Sprintf("%s: %v", p, err))
				continue
			}
			slices.Sort(names)
			lines = append(lines, fmt.Sprintf("%s: czxid=%#x mzxid=%#x pzxid=%#x version=%d cversion=%d names=%v",
				p, st.Czxid, st.Mzxid, st.Pzxid, st.Version, st.Cversion, names))
		}
		return "\n    " + strings.Join(lines, "\n    ")
	})
}

// currentOwner returns the session id of the Mirror's current session, as the owner of an
// ephemeral node it creates now (and deletes again).
func currentOwner(ctx context.Context, mc *mclient, conn *zk.Conn, path string) (int64, error) {
	n, err := mc.m.Node(path)
	if err != nil {
		return 0, err
	}
	defer n.Close()
	// A connection that drops while the create is in flight leaves its outcome unknown
	// (ErrConnectionLoss): try again, and a node already there is the first try's.
	for attempt := 1; ; attempt++ {
		_, err := n.Create(ctx, nil, zkmirror.Ephemeral())
		if err == nil || (attempt > 1 && errors.Is(err, zkmirror.ErrNodeExists)) {
			break
		}
		if !errors.Is(err, zkmirror.ErrConnectionLoss) || attempt == 5 {
			return 0, fmt.Errorf("creating probe %s (attempt %d): %w", path, attempt, err)
		}
	}
	ok, owner, err := ownerEventually(conn, path)
	if err != nil {
		return 0, err
	}
	if !ok || owner == 0 {
		v, verr := n.Value(ctx)
		return 0, fmt.Errorf("%w: %s created through the mirror, then read by another client: exists=%v owner=%#x; the mirror's Value: %v %v",
			errProbeMissing, path, ok, owner, valueSnap(v), verr)
	}
	if err := n.Delete(ctx, -1); err != nil {
		return 0, fmt.Errorf("deleting probe %s: %w", path, err)
	}
	return owner, nil
}

// expireByBlackhole makes the ensemble expire mc's session: it creates an ephemeral marker
// through the mirror, blackholes every proxy of mc and waits until conn sees the marker
// gone, which happens only when the session expired. The blackhole stays on: restore ends it.
func expireByBlackhole(ctx context.Context, mc *mclient, conn *zk.Conn, marker string) error {
	owner, err := markSession(ctx, mc, conn, marker)
	if err != nil {
		return err
	}
	mc.blackhole()
	return waitMarkerGone(mc, conn, marker, owner)
}

// markSession creates an ephemeral marker through the mirror and returns its owner.
func markSession(ctx context.Context, mc *mclient, conn *zk.Conn, marker string) (int64, error) {
	n, err := mc.m.Node(marker)
	if err != nil {
		return 0, err
	}
	defer n.Close()
	if _, err := n.Create(ctx, nil, zkmirror.Ephemeral()); err != nil {
		return 0, fmt.Errorf("creating marker %s: %w", marker, err)
	}
	ok, owner, err := ownerEventually(conn, marker)
	if err != nil {
		return 0, err
	}
	if !ok || owner == 0 {
		return 0, fmt.Errorf("marker %s: exists=%v owner=%#x", marker, ok, owner)
	}
	return owner, nil
}

// waitMarkerGone waits (up to the session timeout and 40 s more) until the marker of the
// session owner is gone.
func waitMarkerGone(mc *mclient, conn *zk.Conn, marker string, owner int64) error {
	deadline := time.Now().Add(mc.m.SessionTimeout() + 40*time.Second)
	for {
		ok, o, _, err := ownerOf(conn, marker)
		if err == nil && (!ok || o != owner) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the session %#x of mirror %s did not expire: marker %s still there (err %v)", owner, mc.name, marker, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mustCreate creates path with conn, failing t unless it is created or already exists.
func mustCreate(t testing.TB, conn *zk.Conn, path string, data []byte) {
	t.Helper()
	if _, err := conn.Create(path, data, 0, worldACL); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		t.Fatalf("create %s: %v", path, err)
	}
}

// retryWrite runs a raw write until it succeeds (or gives an answer accepted by ok), for up
// to d: the ensemble may be electing a leader.
func retryWrite(t testing.TB, d time.Duration, what string, f func() error, ok ...error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		for _, o := range ok {
			if errors.Is(err, o) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// settle makes every running server of c apply what was committed before the call (a Sync
// through a client connected to that server alone), so that a Mirror connected to any of
// them starts from the same state as the writer that set it up.
func settle(t testing.TB, c *zktest.Cluster) {
	t.Helper()
	for _, s := range c.Servers {
		if !s.Running() || s.Paused() {
			continue
		}
		conn, events, err := zk.Connect([]string{s.Addr()}, 10*time.Second, zk.WithLogger(nopLogger{}), zk.WithLogInfo(false))
		if err != nil {
			t.Fatal(err)
		}
		ok := waitUntil(30*time.Second, func() bool { return conn.State() == zk.StateHasSession })
		var serr error
		if ok {
			_, serr = conn.Sync("/")
		}
		conn.Close()
		for range events {
		}
		if !ok || serr != nil {
			t.Fatalf("settling server %d: session %v, sync %v", s.ID, ok, serr)
		}
	}
}
