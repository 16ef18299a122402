package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/internal/zktest"
)

// runResync: a session expiry with many paths mirrored. The mirror and the raw client
// connect through a zktest.Proxy, which is blackholed past the session timeout.
func runResync(e *env) error {
	const scn = "resync"
	root := benchRoot + "/sync"
	n := e.sz.resyncPaths
	if err := ensureChildren(e.ctx, e.admin.Conn, root, max(n, e.sz.syncChildren), func(int) []byte { return labeled("sync") }); err != nil {
		return err
	}
	paths := childPaths(root, n)
	timeout := e.sz.resyncTimeout
	// Long enough that the server expires the session (it checks every tick).
	blackhole := timeout*3/2 + 500*time.Millisecond

	err := e.repeat(scn, "", []string{"mirror", "raw"}, 9, func(ctx context.Context, side string, r rep) error {
		proxy, err := zktest.NewProxy(e.servers[0])
		if err != nil {
			return err
		}
		defer proxy.Close()
		var initial, resync time.Duration
		switch side {
		case "mirror":
			initial, resync, err = resyncMirror(ctx, proxy, paths, timeout, blackhole)
		case "raw":
			initial, resync, err = resyncRaw(ctx, proxy, paths, timeout, blackhole)
		}
		if err != nil {
			return err
		}
		e.put(scn, "", side, r, "initial", "s", initial.Seconds())
		e.put(scn, "", side, r, "resync", "s", resync.Seconds())
		e.put(scn, "", side, r, "resync/initial", "x", resync.Seconds()/initial.Seconds())
		return nil
	})
	if err != nil {
		return err
	}
	label := fmt.Sprintf("%d paths:", n)
	e.rec.summarize(scn, "", "mirror", "raw", "initial", label+" initial sync", "s", nil, "")
	e.rec.summarize(scn, "", "mirror", "raw", "resync", label+" new session → all resynced", "s", nil,
		"raw re-reads without Sync; the mirror calls Sync first")
	// The target compares the mirror's resync with its own initial sync of the same paths.
	mv := e.rec.values(scn, "", "mirror", "resync/initial")
	rw := row{Scenario: scn, Metric: "resync / initial sync (mirror)", Unit: "x", Mirror: median(mv), N: len(mv),
		Note: "median of per-repetition ratios; raw column: the raw client's own ratio"}
	if rv := e.rec.values(scn, "", "raw", "resync/initial"); len(rv) > 0 {
		m := median(rv)
		rw.Raw = &m
	}
	tg := target{text: "≤ 1.10×", ok: func(rw row) bool { return rw.Mirror <= 1.1 }}
	e.rec.judge(&rw, &tg)
	e.rec.addRow(rw)
	// And against scenario sync's MaxDepth(1) load (root + its children's data: about the
	// same number of reads), when it ran with as many children.
	if sv := e.rec.values("sync", "depth1", "mirror", "sync"); len(sv) > 0 && e.sz.syncChildren == n {
		rv := e.rec.values(scn, "", "mirror", "resync")
		rw := row{Scenario: scn, Metric: "resync / sync MaxDepth(1) (mirror)", Unit: "x", Mirror: median(rv) / median(sv), N: len(rv),
			Note: "median resync over median initial sync of scenario sync, MaxDepth(1)"}
		e.rec.judge(&rw, &tg)
		e.rec.addRow(rw)
	}
	return nil
}

// resyncMirror mirrors paths (data) through proxy, forces an expiry and times the initial
// sync and the resync.
func resyncMirror(ctx context.Context, proxy *zktest.Proxy, paths []string, timeout, blackhole time.Duration) (initial, resync time.Duration, err error) {
	m, err := connectMirror(ctx, []string{proxy.Addr()}, zkmirror.WithSessionTimeout(timeout), zkmirror.WithResyncJitter(0))
	if err != nil {
		return 0, 0, err
	}
	defer m.Close()

	// Follow the states: the time of Connected after Expired.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	states := m.States(sctx)
	newSession := make(chan time.Time, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		expired := false
		for st := range states {
			switch st {
			case zkmirror.StateExpired:
				expired = true
			case zkmirror.StateConnected:
				if expired {
					at := time.Now()
					if s := m.Stats(); s.State == zkmirror.StateConnected && !s.StateSince.IsZero() {
						at = s.StateSince
					}
					select {
					case newSession <- at:
					default:
					}
					expired = false
				}
			}
		}
	})

	first := newCountdown(len(paths))
	var resynced atomic.Pointer[countdown]
	seen := make([]atomic.Bool, len(paths))
	firstSeen := make([]atomic.Bool, len(paths))
	t0 := time.Now()
	for i, p := range paths {
		nd, err := m.Node(p)
		if err != nil {
			return 0, 0, err
		}
		nd.AddValueWatcher("bench", func(v zkmirror.Value) {
			if !firstSeen[i].Swap(true) {
				first.hit()
			}
			if v.Resync {
				if cd := resynced.Load(); cd != nil && !seen[i].Swap(true) {
					cd.hit()
				}
			}
		})
	}
	if err := waitFor(ctx, first.done, 60*time.Second, "initial sync"); err != nil {
		return 0, 0, err
	}
	initial = time.Duration(first.at.Load()) - time.Duration(t0.Sub(epoch))

	cd := newCountdown(len(paths))
	resynced.Store(cd)
	proxy.Blackhole(blackhole)
	if err := waitFor(ctx, cd.done, 60*time.Second, "resync of every path"); err != nil {
		st := m.Stats()
		return 0, 0, fmt.Errorf("%w (state %v, resyncs %d)", err, st.State, st.Resyncs)
	}
	doneAt := epoch.Add(time.Duration(cd.at.Load()))
	var at time.Time
	select {
	case at = <-newSession:
	case <-time.After(5 * time.Second):
		return 0, 0, fmt.Errorf("resync done but no Connected after Expired seen")
	}
	return initial, doneAt.Sub(at), nil
}

// resyncRaw is the raw client: GetW every path (pipelined), then after the expiry re-read
// every path the same way as soon as the new session is up.
func resyncRaw(ctx context.Context, proxy *zktest.Proxy, paths []string, timeout, blackhole time.Duration) (initial, resync time.Duration, err error) {
	newSession := make(chan time.Time, 1)
	var expired atomic.Bool
	conn, err := dialRaw(ctx, []string{proxy.Addr()}, timeout, func(ev zk.Event) {
		if ev.Type != zk.EventSession {
			return
		}
		switch ev.State {
		case zk.StateExpired:
			expired.Store(true)
		case zk.StateHasSession:
			if expired.Swap(false) {
				select {
				case newSession <- time.Now():
				default:
				}
			}
		}
	})
	if err != nil {
		return 0, 0, err
	}
	defer conn.close()

	type val struct {
		data []byte
		stat *zk.Stat
	}
	vals := make([]val, len(paths)) // each index written by one goroutine at a time
	read := func(i int) error {
		data, st, _, err := conn.GetW(paths[i])
		if err != nil {
			return fmt.Errorf("getw %s: %w", paths[i], err)
		}
		vals[i] = val{data, st}
		return nil
	}
	t0 := time.Now()
	if err := pipelined(ctx, len(paths), readConcurrency, read); err != nil {
		return 0, 0, err
	}
	initial = time.Since(t0)

	proxy.Blackhole(blackhole)
	var at time.Time
	t := time.NewTimer(60 * time.Second)
	defer t.Stop()
	select {
	case at = <-newSession:
	case <-t.C:
		return 0, 0, fmt.Errorf("no new session after 60s")
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
	if err := pipelined(ctx, len(paths), readConcurrency, read); err != nil {
		return 0, 0, err
	}
	return initial, time.Since(at), nil
}
