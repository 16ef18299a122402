package chaos_test

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/internal/zktest"
	"github.com/zkmirror/zkmirror/leaktest"
)

// expiryScenario is the layout the expiry tests share: under base, a node changed during
// the outage (a), one deleted (b, with a child so its children stream has content), one
// created (c), one missing throughout and created after the resync (d), one left alone (e),
// and a Keep node (keep) created through the mirror.
type expiryScenario struct {
	t    *testing.T
	c    *zktest.Cluster
	raw  *zk.Conn // reaches the ensemble during the outage
	mc   *mclient
	base string
	w    map[string]*watched // by short name: "", a, b, c, d, e, keep
}

var scenarioNames = []string{"", "a", "b", "c", "d", "e", "keep"}

func (sc *expiryScenario) path(name string) string {
	if name == "" {
		return sc.base
	}
	return sc.base + "/" + name
}

func (sc *expiryScenario) all() []*watched {
	var out []*watched
	for _, n := range scenarioNames {
		out = append(out, sc.w[n])
	}
	return out
}

func (sc *expiryScenario) setup() {
	t := sc.t
	t.Helper()
	mustCreate(t, sc.raw, sc.base, []byte("p0"))
	mustCreate(t, sc.raw, sc.path("a"), []byte("a0"))
	mustCreate(t, sc.raw, sc.path("b"), []byte("b0"))
	mustCreate(t, sc.raw, sc.path("b")+"/x", nil)
	mustCreate(t, sc.raw, sc.path("e"), []byte("e0"))
	ctx := ctxFor(t, 30*time.Second)
	keep, err := sc.mc.m.Node(sc.path("keep"))
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	if _, err := keep.Create(ctx, []byte("k0"), zkmirror.Keep()); err != nil {
		t.Fatalf("creating the Keep node: %v", err)
	}
	for _, d := range []string{"k1", "k2"} {
		if _, err := keep.Set(ctx, []byte(d), -1); err != nil {
			t.Fatalf("setting the Keep node: %v", err)
		}
	}
	settle(t, sc.c)
	sc.w = map[string]*watched{}
	for _, n := range scenarioNames {
		sc.w[n] = watchPath(t, sc.mc, sc.path(n), true)
	}
	if diffs, _ := converge(sc.raw, 30*time.Second, sc.all()); len(diffs) > 0 {
		reportDiffs(t, "initial load", diffs)
		t.FailNow()
	}
}

// run drives one expiry: startOutage must return once the ensemble has expired the
// Mirror's session, with the Mirror still cut off; endOutage lets it reach the ensemble.
func (sc *expiryScenario) run(startOutage, endOutage func()) {
	t := sc.t
	t.Helper()
	mc, raw := sc.mc, sc.raw
	ctx := ctxFor(t, 2*time.Minute)
	timeout := mc.m.SessionTimeout()
	_, oldOwner, _, err := ownerOf(raw, sc.path("keep"))
	if err != nil || oldOwner == 0 {
		t.Fatalf("the Keep node before the outage: owner %#x, %v", oldOwner, err)
	}
	before := map[string][2]snap{}
	for _, w := range sc.all() {
		d, _ := w.data.latest()
		k, _ := w.kids.latest()
		before[w.path] = [2]snap{d, k}
		w.data.resetWindow()
		w.kids.resetWindow()
	}
	st0 := mc.m.Stats()
	mark := mc.states.mark()
	outageStart := time.Now()

	startOutage()

	// Meanwhile: a changes, b goes, c comes; the Keep node went with the session.
	retryWrite(t, 30*time.Second, "set a", func() error { _, err := raw.Set(sc.path("a"), []byte("a1"), -1); return err })
	retryWrite(t, 30*time.Second, "delete b/x", func() error { return raw.Delete(sc.path("b")+"/x", -1) }, zk.ErrNoNode)
	retryWrite(t, 30*time.Second, "delete b", func() error { return raw.Delete(sc.path("b"), -1) }, zk.ErrNoNode)
	retryWrite(t, 30*time.Second, "create c", func() error {
		_, err := raw.Create(sc.path("c"), []byte("c1"), 0, worldACL)
		return err
	}, zk.ErrNodeExists)

	if !waitUntil(timeout+20*time.Second, func() bool { return mc.m.State() == zkmirror.StateLost }) {
		t.Fatalf("state %v, not Lost, %v into the outage; transitions %s", mc.m.State(), time.Since(outageStart), statesString(mc.states.since(mark)))
	}
	if ds := mc.m.DisconnectedSince(); ds.IsZero() || ds.Before(outageStart.Add(-time.Second)) || ds.After(time.Now()) {
		t.Errorf("DisconnectedSince during the outage = %v (outage began %v)", ds, outageStart)
	}
	// Every stream still holds its last known state while Lost.
	for _, w := range sc.all() {
		if v, err := w.node.Value(ctx); w.path != sc.path("d") && w.path != sc.path("c") && err != nil {
			t.Errorf("Value(%s) while Lost: %v %v", w.path, v, err)
		}
	}

	endOutage()

	if !waitUntil(60*time.Second, func() bool {
		evs := mc.states.since(mark)
		return len(evs) > 0 && evs[len(evs)-1].st == zkmirror.StateConnected && mc.states.count(mark, zkmirror.StateExpired) > 0
	}) {
		t.Fatalf("no new session after the outage: transitions %s", statesString(mc.states.since(mark)))
	}
	recs := recordersOf(sc.all()...)
	if !waitUntil(30*time.Second, func() bool {
		for _, r := range recs {
			if n, _, _ := r.window(); n == 0 {
				return false
			}
		}
		return true
	}) {
		for _, r := range recs {
			if n, _, _ := r.window(); n == 0 {
				t.Errorf("%s: no Resync snapshot after the expiry; snapshots %v", r.label, r.all())
			}
		}
		t.FailNow()
	}
	// The Keep node comes back, owned by the new session, with the latest data set.
	var keepOwner int64
	var keepData []byte
	if !waitUntil(30*time.Second, func() bool {
		ok, o, d, err := ownerOf(raw, sc.path("keep"))
		keepOwner, keepData = o, d
		return err == nil && ok && o != oldOwner
	}) {
		t.Fatalf("the Keep node was not re-created: owner %#x (old %#x) data %q", keepOwner, oldOwner, keepData)
	}
	// Let late or duplicate snapshots arrive before counting.
	time.Sleep(time.Second + time.Duration(float64(timeout)*0.3))

	evs := mc.states.since(mark)
	want := []zkmirror.State{zkmirror.StateSuspended, zkmirror.StateLost, zkmirror.StateExpired, zkmirror.StateConnected}
	if got := stateList(evs); !slices.Equal(got, want) {
		t.Errorf("transitions %s, want %v", statesString(evs), want)
	} else if lost := evs[1].at.Sub(evs[0].at); lost < timeout-150*time.Millisecond || lost > timeout+5*time.Second {
		t.Errorf("Lost came %v after Suspended; the negotiated session timeout is %v", lost, timeout)
	}
	if mc.m.State() != zkmirror.StateConnected || !mc.m.DisconnectedSince().IsZero() {
		t.Errorf("after the outage: state %v, DisconnectedSince %v", mc.m.State(), mc.m.DisconnectedSince())
	}
	if d := mc.m.Stats().Resyncs - st0.Resyncs; d != 1 {
		t.Errorf("Stats().Resyncs grew by %d over one expiry, want 1", d)
	}
	for _, r := range recs {
		if n, _, _ := r.window(); n != 1 {
			t.Errorf("%s: %d Resync snapshots after one expiry, want exactly 1: %v", r.label, n, r.all())
		}
	}
	// The first Resync snapshot of each path tells the outage's outcome.
	firstResync := func(r *recorder) snap {
		for _, s := range r.all() {
			if s.resync {
				return s
			}
		}
		return snap{}
	}
	if s := firstResync(sc.w["b"].data); s.exists {
		t.Errorf("b was deleted during the outage; its Resync data snapshot is %v", s)
	}
	if s := firstResync(sc.w["b"].kids); s.exists {
		t.Errorf("b was deleted during the outage; its Resync children snapshot is %v", s)
	}
	if s := firstResync(sc.w["c"].data); !s.exists || string(s.data) != "c1" {
		t.Errorf("c was created during the outage; its Resync data snapshot is %v", s)
	}
	if s := firstResync(sc.w["a"].data); !s.exists || string(s.data) != "a1" {
		t.Errorf("a changed during the outage; its Resync data snapshot is %v", s)
	}
	if s := firstResync(sc.w["d"].data); s.exists {
		t.Errorf("d is missing; its Resync data snapshot is %v", s)
	}
	if s, old := firstResync(sc.w["e"].data), before[sc.path("e")][0]; !s.exists || s.czxid != old.czxid || s.zxid != old.zxid {
		t.Errorf("e did not change; its Resync data snapshot is %v, before the outage %v", s, old)
	}
	if string(keepData) != "k2" {
		t.Errorf("the Keep node was re-created with %q, want the latest data set through the mirror, %q", keepData, "k2")
	}
	if cur, err := currentOwner(ctx, mc, raw, sc.base+"-probe"); err != nil {
		t.Error(err)
	} else if cur != keepOwner {
		t.Errorf("the Keep node is owned by %#x, the mirror's session is %#x", keepOwner, cur)
	}

	// The missing path got its exists watch back.
	retryWrite(t, 30*time.Second, "create d", func() error {
		_, err := raw.Create(sc.path("d"), []byte("d1"), 0, worldACL)
		return err
	}, zk.ErrNodeExists)
	if !waitUntil(15*time.Second, func() bool {
		s, _ := sc.w["d"].data.latest()
		k, _ := sc.w["d"].kids.latest()
		return s.exists && string(s.data) == "d1" && k.exists
	}) {
		s, _ := sc.w["d"].data.latest()
		t.Errorf("d created after the resync was not seen: data %v", s)
	}
	diffs, _ := converge(raw, 30*time.Second, sc.all())
	reportDiffs(t, "after the expiry", diffs)
	reportViolations(t, recs...)
}

// TestExpiryByBlackhole: a Mirror cut off (blackholed) past its session timeout goes
// Suspended, Lost, Expired, Connected; every path emits exactly one Resync snapshot; the
// outage's deletions and creations show; the Keep node is re-created.
func TestExpiryByBlackhole(t *testing.T) {
	leaktest.Check(t)
	raw := rawClient(t, shared.Addrs(), 10*time.Second)
	mc := newProxied(t, shared, "blackholed", zkmirror.WithSessionTimeout(2*time.Second), zkmirror.WithResyncJitter(0.25))
	sc := &expiryScenario{t: t, c: shared, raw: raw, mc: mc, base: "/expiry-blackhole"}
	sc.setup()
	ctx := ctxFor(t, time.Minute)
	sc.run(func() {
		if err := expireByBlackhole(ctx, mc, raw, sc.base+"-marker"); err != nil {
			t.Fatal(err)
		}
	}, mc.restore)
}

// TestExpiryByPausedServer: a server stopped (SIGSTOP) past the session timeout of the only
// Mirror connected to it behaves like a blackhole.
func TestExpiryByPausedServer(t *testing.T) {
	leaktest.Check(t)
	c := startEnsemble(t)
	fs := c.Followers()
	if len(fs) == 0 {
		t.Fatal("no follower")
	}
	f := fs[0]
	var others []string
	for _, s := range c.Servers {
		if s != f {
			others = append(others, s.Addr())
		}
	}
	raw := rawClient(t, others, 10*time.Second)
	mc := newDirect(t, []string{f.Addr()}, "paused", zkmirror.WithSessionTimeout(2*time.Second), zkmirror.WithResyncJitter(0))
	sc := &expiryScenario{t: t, c: c, raw: raw, mc: mc, base: "/expiry-paused"}
	sc.setup()
	ctx := ctxFor(t, time.Minute)
	marker := sc.base + "-marker"
	sc.run(func() {
		owner, err := markSession(ctx, mc, raw, marker)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Pause(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if f.Paused() {
				f.Resume()
			}
		})
		if err := waitMarkerGone(mc, raw, marker, owner); err != nil {
			t.Fatal(err)
		}
	}, func() {
		if err := f.Resume(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestDisconnectWithoutExpiry: connections dropped and restored within the session timeout
// keep the session: no Resync, no Lost, and the changes made meanwhile arrive.
func TestDisconnectWithoutExpiry(t *testing.T) {
	leaktest.Check(t)
	raw := rawClient(t, shared.Addrs(), 10*time.Second)
	mc := newProxied(t, shared, "cut", zkmirror.WithSessionTimeout(5*time.Second))
	base := "/disconnect"
	mustCreate(t, raw, base, []byte("p0"))
	mustCreate(t, raw, base+"/a", []byte("a0"))
	mustCreate(t, raw, base+"/b", []byte("b0"))
	settle(t, shared)
	ctx := ctxFor(t, 2*time.Minute)
	var ws []*watched
	for _, p := range []string{base, base + "/a", base + "/b", base + "/x", base + "/y"} {
		ws = append(ws, watchPath(t, mc, p, true))
	}
	if diffs, _ := converge(raw, 30*time.Second, ws); len(diffs) > 0 {
		reportDiffs(t, "initial load", diffs)
		t.FailNow()
	}
	owner, err := markSession(ctx, mc, raw, base+"-marker")
	if err != nil {
		t.Fatal(err)
	}
	recs := recordersOf(ws...)
	st0 := mc.m.Stats()
	mark := mc.states.mark()

	// 1: the watch events of the changes fall into a blackhole; the reconnection's
	// SetWatches must bring them.
	mc.blackhole()
	start := time.Now()
	if _, err := raw.Set(base+"/a", []byte("a1"), -1); err != nil {
		t.Fatal(err)
	}
	if err := raw.Delete(base+"/b", -1); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Create(base+"/x", []byte("x1"), 0, worldACL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond)
	mc.restore() // closes the blackholed connections
	if el := time.Since(start); el > mc.m.SessionTimeout()/2 {
		t.Fatalf("the outage took %v, too close to the session timeout %v for this test", el, mc.m.SessionTimeout())
	}
	if !waitUntil(20*time.Second, func() bool {
		a, _ := ws[1].data.latest()
		b, _ := ws[2].data.latest()
		x, _ := ws[3].data.latest()
		p, _ := ws[0].kids.latest()
		return string(a.data) == "a1" && !b.exists && x.exists && slices.Equal(p.names, []string{"a", "x"})
	}) {
		a, _ := ws[1].data.latest()
		b, _ := ws[2].data.latest()
		x, _ := ws[3].data.latest()
		p, _ := ws[0].kids.latest()
		t.Errorf("changes made while disconnected did not arrive: a %v b %v x %v children %v; transitions %s",
			a, b, x, p, statesString(mc.states.since(mark)))
	}

	// 2: plain cuts, each right after a change.
	for i := range 3 {
		data := fmt.Sprintf("a%d", i+2)
		if _, err := raw.Set(base+"/a", []byte(data), -1); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			if _, err := raw.Create(base+"/y", []byte("y1"), 0, worldACL); err != nil {
				t.Fatal(err)
			}
		}
		mc.cut()
		if !waitUntil(20*time.Second, func() bool {
			a, _ := ws[1].data.latest()
			return string(a.data) == data
		}) {
			a, _ := ws[1].data.latest()
			t.Errorf("cut %d: a is %v, want %q", i, a, data)
		}
	}
	if !mc.waitConnected(20 * time.Second) {
		t.Fatalf("not connected again: %v", mc.m.State())
	}
	diffs, _ := converge(raw, 30*time.Second, ws)
	reportDiffs(t, "after the disconnects", diffs)

	evs := mc.states.since(mark)
	if mc.states.count(mark, zkmirror.StateSuspended) == 0 {
		t.Errorf("no Suspended state: the connections were not dropped? transitions %s", statesString(evs))
	}
	for i, e := range evs {
		switch e.st {
		case zkmirror.StateSuspended:
			if i+1 < len(evs) && evs[i+1].st != zkmirror.StateConnected {
				t.Errorf("Suspended followed by %v: %s", evs[i+1].st, statesString(evs))
			}
		case zkmirror.StateConnected:
		default:
			t.Errorf("transition to %v without an expiry: %s", e.st, statesString(evs))
		}
	}
	if d := mc.m.Stats().Resyncs - st0.Resyncs; d != 0 {
		t.Errorf("Stats().Resyncs grew by %d without an expiry", d)
	}
	for _, r := range recs {
		if n, _, _ := r.window(); n != 0 {
			t.Errorf("%s: %d Resync snapshots without an expiry: %v", r.label, n, r.all())
		}
	}
	if ok, o, _, err := ownerOf(raw, base+"-marker"); err != nil || !ok || o != owner {
		t.Errorf("the session's ephemeral marker: exists=%v owner %#x (was %#x) err %v", ok, o, owner, err)
	}
	if ds := mc.m.DisconnectedSince(); !ds.IsZero() {
		t.Errorf("DisconnectedSince %v while connected", ds)
	}
	t.Logf("transitions %s; Stats %+v", statesString(evs), mc.m.Stats())
	reportViolations(t, recs...)
}

// pinTo connects a Mirror through proxies to every server of c, but lets only the proxy of
// server first reach its server until the Mirror has its session: the Mirror is then known
// to be connected to first.
func pinTo(t *testing.T, c *zktest.Cluster, first *zktest.Server, name string, opts ...zkmirror.Option) *mclient {
	t.Helper()
	var proxies []*zktest.Proxy
	var addrs []string
	dead := deadAddr(t)
	for _, s := range c.Servers {
		p, err := zktest.NewProxy(s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		if s != first {
			p.SetTarget(dead)
		}
		proxies = append(proxies, p)
		addrs = append(addrs, p.Addr())
	}
	mc := newDirect(t, addrs, name, opts...)
	mc.proxies = proxies
	if !mc.waitConnected(30 * time.Second) {
		t.Fatalf("mirror %s: no session", name)
	}
	for i, s := range c.Servers {
		proxies[i].SetTarget(s.Addr())
	}
	return mc
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	p, err := zktest.NewProxy("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	addr := p.Addr()
	p.Close()
	return addr
}

// TestLeaderKilled: when the leader dies, Mirrors connected to it and to a follower reconnect
// within their sessions and keep watching: no expiry, no Resync, every change arrives.
func TestLeaderKilled(t *testing.T) {
	leaktest.Check(t)
	c := startEnsemble(t)
	leader, err := c.Leader()
	if err != nil {
		t.Fatal(err)
	}
	follower := c.Followers()[0]
	raw := rawClient(t, c.Addrs(), 15*time.Second)
	base := "/leader-killed"
	mustCreate(t, raw, base, []byte("p0"))
	mustCreate(t, raw, base+"/a", []byte("a0"))
	mustCreate(t, raw, base+"/b", []byte("b0"))
	settle(t, c)
	// A session timeout far above an election's length: the sessions must survive.
	opts := []zkmirror.Option{zkmirror.WithSessionTimeout(8 * time.Second)}
	onLeader := pinTo(t, c, leader, "on-leader", opts...)
	onFollower := pinTo(t, c, follower, "on-follower", opts...)
	mcs := []*mclient{onLeader, onFollower}
	ctx := ctxFor(t, 2*time.Minute)
	ws := map[*mclient][]*watched{}
	var recs []*recorder
	owners := map[*mclient]int64{}
	marks := map[*mclient]int{}
	for _, mc := range mcs {
		for _, p := range []string{base, base + "/a", base + "/b", base + "/c"} {
			ws[mc] = append(ws[mc], watchPath(t, mc, p, true))
		}
		recs = append(recs, recordersOf(ws[mc]...)...)
		o, err := markSession(ctx, mc, raw, base+"-marker-"+mc.name)
		if err != nil {
			t.Fatal(err)
		}
		owners[mc] = o
	}
	if diffs, _ := converge(raw, 30*time.Second, ws[onLeader], ws[onFollower]); len(diffs) > 0 {
		reportDiffs(t, "initial load", diffs)
		t.FailNow()
	}
	for _, mc := range mcs {
		marks[mc] = mc.states.mark()
	}

	if err := leader.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if err := c.WaitServing(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("a new leader serves %v after the kill", time.Since(killed).Round(time.Millisecond))
	retryWrite(t, 30*time.Second, "set a", func() error { _, err := raw.Set(base+"/a", []byte("a1"), -1); return err })
	retryWrite(t, 30*time.Second, "delete b", func() error { return raw.Delete(base+"/b", -1) }, zk.ErrNoNode)
	retryWrite(t, 30*time.Second, "create c", func() error {
		_, err := raw.Create(base+"/c", []byte("c1"), 0, worldACL)
		return err
	}, zk.ErrNodeExists)
	for _, mc := range mcs {
		if !mc.waitConnected(30 * time.Second) {
			t.Errorf("%s: not connected after the leader died: %s", mc.name, statesString(mc.states.since(marks[mc])))
		}
		diffs, _ := converge(raw, 30*time.Second, ws[mc])
		reportDiffs(t, mc.name+" after the leader died", diffs)
	}
	// Writes through the mirrors, and later changes, still flow.
	for i, mc := range mcs {
		n := ws[mc][1].node
		if _, err := n.Set(ctx, []byte(fmt.Sprintf("a-from-%d", i)), -1); err != nil {
			t.Errorf("%s: Set after the leader died: %v", mc.name, err)
		}
	}
	retryWrite(t, 30*time.Second, "set a", func() error { _, err := raw.Set(base+"/a", []byte("a-last"), -1); return err })
	for _, mc := range mcs {
		if !waitUntil(15*time.Second, func() bool {
			a, _ := ws[mc][1].data.latest()
			return string(a.data) == "a-last"
		}) {
			a, _ := ws[mc][1].data.latest()
			t.Errorf("%s: a is %v after the last change, want a-last", mc.name, a)
		}
		diffs, _ := converge(raw, 30*time.Second, ws[mc])
		reportDiffs(t, mc.name+" at the end", diffs)
	}

	for _, mc := range mcs {
		evs := mc.states.since(marks[mc])
		t.Logf("%s: transitions %s; Stats %+v", mc.name, statesString(evs), mc.m.Stats())
		if mc.states.count(marks[mc], zkmirror.StateExpired) > 0 || mc.states.count(marks[mc], zkmirror.StateLost) > 0 {
			t.Errorf("%s: the session did not survive the leader's death: %s", mc.name, statesString(evs))
		}
		if mc == onLeader && mc.states.count(marks[mc], zkmirror.StateSuspended) == 0 {
			t.Errorf("%s: connected to the killed leader yet never Suspended: %s", mc.name, statesString(evs))
		}
		if r := mc.m.Stats().Resyncs; r != 0 {
			t.Errorf("%s: %d resyncs without an expiry", mc.name, r)
		}
		if ok, o, _, err := ownerOf(raw, base+"-marker-"+mc.name); err != nil || !ok || o != owners[mc] {
			t.Errorf("%s: the session's marker: exists=%v owner %#x (was %#x) err %v", mc.name, ok, o, owners[mc], err)
		}
	}
	for _, r := range recs {
		for _, s := range r.all() {
			if s.resync {
				t.Errorf("%s: a Resync snapshot without an expiry: %v", r.label, s)
				break
			}
		}
	}
	reportViolations(t, recs...)
}

// TestResyncJitter: after a common expiry, Mirrors with WithResyncJitter(1) start their
// resyncs spread over up to one session timeout, and Mirrors with WithResyncJitter(0) start
// at once. The start of a resync is measured from the new session's Connected transition to
// the first Resync snapshot.
func TestResyncJitter(t *testing.T) {
	leaktest.Check(t)
	raw := rawClient(t, shared.Addrs(), 10*time.Second)
	base := "/jitter"
	mustCreate(t, raw, base, nil)
	for i := range 4 {
		mustCreate(t, raw, fmt.Sprintf("%s/n%d", base, i), []byte("x"))
	}
	settle(t, shared)
	const timeout = 3 * time.Second
	type subject struct {
		mc     *mclient
		jitter float64
		ws     []*watched
		mark   int
		marker string
		owner  int64
	}
	var subjects []*subject
	for i := range 8 {
		j := 1.0
		if i >= 6 {
			j = 0
		}
		mc := newProxied(t, shared, fmt.Sprintf("jitter%d-%v", i, j), zkmirror.WithSessionTimeout(timeout), zkmirror.WithResyncJitter(j))
		s := &subject{mc: mc, jitter: j, marker: fmt.Sprintf("%s-marker-%d", base, i)}
		for _, p := range []string{base, base + "/n0", base + "/n1", base + "/n2", base + "/n3"} {
			s.ws = append(s.ws, watchPath(t, mc, p, false))
		}
		subjects = append(subjects, s)
	}
	ctx := ctxFor(t, 2*time.Minute)
	for _, s := range subjects {
		if diffs, _ := converge(raw, 30*time.Second, s.ws); len(diffs) > 0 {
			reportDiffs(t, "initial load", diffs)
			t.FailNow()
		}
		o, err := markSession(ctx, s.mc, raw, s.marker)
		if err != nil {
			t.Fatal(err)
		}
		s.owner = o
		s.mark = s.mc.states.mark()
		for _, r := range recordersOf(s.ws...) {
			r.resetWindow()
		}
	}
	for _, s := range subjects {
		s.mc.blackhole()
	}
	for _, s := range subjects {
		if err := waitMarkerGone(s.mc, raw, s.marker, s.owner); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range subjects {
		s.mc.restore()
	}
	var jittered []time.Duration
	for _, s := range subjects {
		recs := recordersOf(s.ws...)
		var connectedAt time.Time
		if !waitUntil(60*time.Second, func() bool {
			seenExpired := false
			for _, e := range s.mc.states.since(s.mark) {
				if e.st == zkmirror.StateExpired {
					seenExpired = true
				}
				if seenExpired && e.st == zkmirror.StateConnected {
					connectedAt = e.at
					return true
				}
			}
			return false
		}) {
			t.Fatalf("%s: no new session: %s", s.mc.name, statesString(s.mc.states.since(s.mark)))
		}
		if !waitUntil(30*time.Second, func() bool {
			for _, r := range recs {
				if n, _, _ := r.window(); n == 0 {
					return false
				}
			}
			return true
		}) {
			t.Fatalf("%s: not every path emitted a Resync snapshot", s.mc.name)
		}
		first := time.Time{}
		for _, r := range recs {
			if _, at, _ := r.window(); first.IsZero() || at.Before(first) {
				first = at
			}
		}
		delay := first.Sub(connectedAt)
		negotiated := s.mc.m.SessionTimeout()
		bound := time.Duration(s.jitter * float64(negotiated))
		t.Logf("%s: resync started %v after the new session (bound %v)", s.mc.name, delay.Round(time.Millisecond), bound)
		switch {
		case delay < -50*time.Millisecond:
			t.Errorf("%s: a Resync snapshot %v before the new session", s.mc.name, -delay)
		case s.jitter > 0 && delay > bound+time.Second:
			t.Errorf("%s: resync started %v after the new session; jitter %v of %v allows %v", s.mc.name, delay, s.jitter, negotiated, bound)
		case s.jitter == 0 && delay > negotiated/5:
			t.Errorf("%s: with no jitter the resync started only %v after the new session", s.mc.name, delay)
		}
		if s.jitter > 0 {
			jittered = append(jittered, delay)
		}
		if r := s.mc.m.Stats().Resyncs; r != 1 {
			t.Errorf("%s: Stats().Resyncs = %d after one expiry", s.mc.name, r)
		}
		reportViolations(t, recs...)
	}
	// Six delays drawn uniformly from [0, T]: the chance that all fall below T/5 is 6.4e-5.
	if slices.Max(jittered) < timeout/5 {
		t.Errorf("resync delays %v with jitter 1 of %v: no delay at all", jittered, timeout)
	}
	var mean float64
	for _, d := range jittered {
		mean += float64(d)
	}
	mean /= float64(len(jittered))
	t.Logf("jittered resync delays: mean %v, max %v", time.Duration(math.Round(mean)).Round(time.Millisecond), slices.Max(jittered).Round(time.Millisecond))
}

// TestRecreatedNodeChildrenUnderLatency: a node deleted and re-created while the Mirror's
// reads are in flight must end with its children stream showing it again. The proxy's
// latency spaces the reads out so that, for each node, the re-creation lands after the
// children read found the node absent and before the data read armed its exists watch
// (one re-creation per node, at slightly different moments, to cover the window).
func TestRecreatedNodeChildrenUnderLatency(t *testing.T) {
	leaktest.Check(t)
	raw := rawClient(t, shared.Addrs(), 10*time.Second)
	mc := newProxied(t, shared, "latency", zkmirror.WithSessionTimeout(10*time.Second))
	base := "/recreate-latency"
	mustCreate(t, raw, base, nil)
	var ws []*watched
	offsets := []time.Duration{850 * time.Millisecond, 950 * time.Millisecond, 1050 * time.Millisecond, 1150 * time.Millisecond}
	for i := range offsets {
		p := fmt.Sprintf("%s/n%d", base, i)
		mustCreate(t, raw, p, []byte("first"))
	}
	settle(t, shared)
	for i := range offsets {
		ws = append(ws, watchPath(t, mc, fmt.Sprintf("%s/n%d", base, i), true))
	}
	if diffs, _ := converge(raw, 30*time.Second, ws); len(diffs) > 0 {
		reportDiffs(t, "initial load", diffs)
		t.FailNow()
	}
	const latency = 400 * time.Millisecond
	for _, p := range mc.proxies {
		p.SetLatency(latency)
	}
	for _, w := range ws {
		if err := raw.Delete(w.path, -1); err != nil {
			t.Fatal(err)
		}
	}
	deleted := time.Now()
	for i, w := range ws {
		time.Sleep(time.Until(deleted.Add(offsets[i])))
		if _, err := raw.Create(w.path, []byte("second"), 0, worldACL); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(4 * latency)
	for _, p := range mc.proxies {
		p.SetLatency(0)
	}
	// A child added now must show too: the node's children are watched again.
	for _, w := range ws {
		if _, err := raw.Create(w.path+"/later", nil, 0, worldACL); err != nil {
			t.Fatal(err)
		}
	}
	diffs, _ := converge(raw, 10*time.Second, ws)
	reportDiffs(t, "after the re-creations", diffs)
	if len(diffs) > 0 {
		for _, w := range ws {
			t.Logf("%s data snapshots: %v", w.path, w.data.all())
			t.Logf("%s children snapshots: %v", w.path, w.kids.all())
		}
	}
	reportViolations(t, recordersOf(ws...)...)
}

// TestCutsDuringReadBursts: connections cut while many reads are in flight. Whatever error
// a read meets on a dying connection, no stream may be left holding it: once connected
// again every path must read back and equal the server.
func TestCutsDuringReadBursts(t *testing.T) {
	leaktest.Check(t)
	raw := rawClient(t, shared.Addrs(), 10*time.Second)
	mc := newProxied(t, shared, "bursts", zkmirror.WithSessionTimeout(5*time.Second))
	base := "/cut-bursts"
	mustCreate(t, raw, base, nil)
	const n = 200
	var ws []*watched
	for i := range n {
		p := fmt.Sprintf("%s/n%03d", base, i)
		mustCreate(t, raw, p, []byte("0"))
	}
	settle(t, shared)
	for i := range n {
		ws = append(ws, watchPath(t, mc, fmt.Sprintf("%s/n%03d", base, i), false))
	}
	if diffs, _ := converge(raw, 30*time.Second, ws); len(diffs) > 0 {
		reportDiffs(t, "initial load", diffs)
		t.FailNow()
	}
	st0 := mc.m.Stats()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // every node changes at once, again and again: a burst of reads each time
		defer close(done)
		for round := 1; ; round++ {
			select {
			case <-stop:
				return
			default:
			}
			var ops []any
			for i := range n {
				ops = append(ops, &zk.SetDataRequest{Path: fmt.Sprintf("%s/n%03d", base, i), Data: []byte(fmt.Sprint(round)), Version: -1})
			}
			raw.Multi(ops...)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	const cuts = 40
	for i := range cuts {
		time.Sleep(time.Duration(80+i%5*30) * time.Millisecond)
		mc.cut()
	}
	close(stop)
	<-done
	if !mc.waitConnected(30 * time.Second) {
		t.Fatalf("not connected after the cuts: %v", mc.m.State())
	}
	diffs, _ := converge(raw, 10*time.Second, ws)
	reportDiffs(t, fmt.Sprintf("after %d cuts during read bursts", cuts), diffs)
	reportViolations(t, recordersOf(ws...)...)
	s := mc.m.Stats()
	t.Logf("%d cuts: reads %d, watches lost %d, resyncs %d", cuts, s.Reads-st0.Reads, s.WatchesLost-st0.WatchesLost, s.Resyncs-st0.Resyncs)
}

// TestKeepRecreatedThenDeletedAgain: another client deletes a Keep node, the Mirror
// re-creates it, and the other client deletes it again at once — before the Mirror has seen
// the re-created node (its connection is slowed by the proxy). The Mirror must re-create the
// node again: it keeps it until it is deleted through the Mirror.
func TestKeepRecreatedThenDeletedAgain(t *testing.T) {
	leaktest.Check(t)
	raw := rawClient(t, shared.Addrs(), 10*time.Second)
	mc := newProxied(t, shared, "keep-twice", zkmirror.WithSessionTimeout(10*time.Second))
	base := "/keep-twice"
	mustCreate(t, raw, base, nil)
	ctx := ctxFor(t, time.Minute)
	path := base + "/kept"
	n, err := mc.m.Node(path)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if _, err := n.Create(ctx, []byte("k"), zkmirror.Keep()); err != nil {
		t.Fatal(err)
	}
	w := watchPath(t, mc, path, true)
	settle(t, shared)
	if diffs, _ := converge(raw, 30*time.Second, []*watched{w}); len(diffs) > 0 {
		reportDiffs(t, "initial load", diffs)
		t.FailNow()
	}
	for _, p := range mc.proxies {
		p.SetLatency(200 * time.Millisecond)
	}
	if err := raw.Delete(path, -1); err != nil {
		t.Fatal(err)
	}
	// Wait for the re-creation and delete it the moment it appears.
	ok, _, ev, err := raw.ExistsW(path)
	if err != nil || ok {
		t.Fatalf("after the first deletion: exists=%v err=%v", ok, err)
	}
	select {
	case e := <-ev:
		if e.Type != zk.EventNodeCreated {
			t.Fatalf("watch event %v, want the re-creation", e)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the Mirror did not re-create its Keep node after another client deleted it")
	}
	if err := raw.Delete(path, -1); err != nil {
		t.Fatalf("deleting the re-created node: %v", err)
	}
	time.Sleep(2 * time.Second)
	for _, p := range mc.proxies {
		p.SetLatency(0)
	}
	var exists bool
	var owner int64
	if !waitUntil(10*time.Second, func() bool {
		exists, owner, _, err = ownerOf(raw, path)
		return err == nil && exists && owner != 0
	}) {
		t.Errorf("deleted again by another client right after its re-creation, the Keep node is not re-created: exists=%v err=%v; data snapshots %v",
			exists, err, w.data.all())
	}
	reportViolations(t, recordersOf(w)...)
}
