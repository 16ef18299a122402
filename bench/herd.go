package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/internal/zktest"
)

// herdState is what every client must reach: expect[p] at every (client, path).
type herdState struct {
	expect  [][]byte
	paths   int
	matched []atomic.Bool
	cd      *countdown
}

// herdCheck follows every client's view of every path.
type herdCheck struct{ st atomic.Pointer[herdState] }

// reset starts waiting for expect at clients × len(expect) (client, path) pairs.
func (h *herdCheck) reset(clients int, expect [][]byte) *countdown {
	st := &herdState{expect: expect, paths: len(expect), matched: make([]atomic.Bool, clients*len(expect)), cd: newCountdown(clients * len(expect))}
	h.st.Store(st)
	return st.cd
}

// complete reports whether a client holds every expected value.
func (h *herdCheck) complete(client int) bool {
	st := h.st.Load()
	for p := range st.paths {
		if !st.matched[client*st.paths+p].Load() {
			return false
		}
	}
	return true
}

func (h *herdCheck) observe(client, path int, data []byte) {
	st := h.st.Load()
	if bytes.Equal(data, st.expect[path]) && !st.matched[client*st.paths+path].Swap(true) {
		st.cd.hit()
	}
}

// herdClient is one of the many clients: a Mirror or a raw client.
type herdClient interface {
	expired() bool        // whether the last outage expired its session
	sessionAt() time.Time // when the current session was established
	close()
}

type herdMirror struct{ m *zkmirror.Mirror }

func (c herdMirror) expired() bool { return c.m.Stats().Resyncs > 0 }
func (c herdMirror) close()        { c.m.Close() }
func (c herdMirror) sessionAt() time.Time {
	if st := c.m.Stats(); st.State == zkmirror.StateConnected {
		return st.StateSince
	}
	return time.Time{}
}

// herdRaw is the raw client: GetW on every path, pipelined; when a new session follows an
// expiry, the same again at once; a path whose watch fires is read again.
type herdRaw struct {
	conn       *rawConn
	expiries   atomic.Int64
	sessionNs  atomic.Int64 // mono() of the last new session after an expiry
	newSession chan struct{}
	quit       chan struct{}
	wg         sync.WaitGroup
}

func (c *herdRaw) expired() bool { return c.expiries.Load() > 0 }
func (c *herdRaw) sessionAt() time.Time {
	return epoch.Add(time.Duration(c.sessionNs.Load()))
}
func (c *herdRaw) close() {
	close(c.quit)
	c.wg.Wait()
	c.conn.close()
}

func dialHerdRaw(ctx context.Context, servers []string, timeout time.Duration, paths []string, saw func(path int, data []byte)) (*herdRaw, error) {
	c := &herdRaw{newSession: make(chan struct{}, 1), quit: make(chan struct{})}
	index := make(map[string]int, len(paths))
	for i, p := range paths {
		index[p] = i
	}
	dirty := make(chan int, 4*len(paths)) // paths whose watch fired
	var wasExpired atomic.Bool
	conn, err := dialRaw(ctx, servers, timeout, func(ev zk.Event) {
		switch ev.Type {
		case zk.EventNodeDataChanged, zk.EventNodeCreated, zk.EventNodeDeleted:
			if i, ok := index[ev.Path]; ok {
				select {
				case dirty <- i:
				default: // full: the re-read of everything below covers it
					select {
					case c.newSession <- struct{}{}:
					default:
					}
				}
			}
		case zk.EventSession:
			switch ev.State {
			case zk.StateExpired:
				wasExpired.Store(true)
			case zk.StateHasSession:
				if wasExpired.Swap(false) {
					c.sessionNs.Store(mono())
					c.expiries.Add(1)
					select {
					case c.newSession <- struct{}{}:
					default:
					}
				}
			}
		}
	})
	if err != nil {
		return nil, err
	}
	c.conn = conn
	read := func(i int) error {
		data, _, _, err := conn.GetW(paths[i])
		if err != nil {
			return err
		}
		saw(i, data)
		return nil
	}
	readAll := func() error { return pipelined(ctx, len(paths), readConcurrency, read) }
	if err := readAll(); err != nil {
		conn.close()
		return nil, err
	}
	// retry runs f until it succeeds (a read fails only while the connection is down).
	retry := func(f func() error) bool {
		for f() != nil {
			select {
			case <-c.quit:
				return false
			case <-time.After(50 * time.Millisecond):
			}
		}
		return true
	}
	c.wg.Go(func() {
		for {
			select {
			case <-c.newSession:
				if !retry(readAll) {
					return
				}
			case i := <-dirty:
				if !retry(func() error { return read(i) }) {
					return
				}
			case <-c.quit:
				return
			}
		}
	})
	return c, nil
}

// reqSample is the sum of the servers' Received counters at one moment.
type reqSample struct {
	at    time.Time
	total int64
}

// sampleRequests samples every server's Srvr().Received every interval until stop closes.
func sampleRequests(servers []*zktest.Server, every time.Duration, stop <-chan struct{}) []reqSample {
	var out []reqSample
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		totals := make([]int64, len(servers))
		errs := make([]error, len(servers))
		var wg sync.WaitGroup
		at := time.Now()
		for i, s := range servers {
			wg.Go(func() {
				st, err := s.Srvr()
				totals[i], errs[i] = st.Received, err
			})
		}
		wg.Wait()
		if errors.Join(errs...) == nil {
			var sum int64
			for _, t := range totals {
				sum += t
			}
			out = append(out, reqSample{at: at, total: sum})
		}
		select {
		case <-stop:
			return out
		case <-tick.C:
		}
	}
}

// peakRate is the largest request rate between consecutive samples taken from `from` on.
func peakRate(ss []reqSample, from, to time.Time) (peak float64, total int64) {
	for i := 1; i < len(ss); i++ {
		a, b := ss[i-1], ss[i]
		if b.at.Before(from) || a.at.After(to) {
			continue
		}
		d := b.total - a.total
		if d < 0 {
			continue
		}
		total += d
		peak = max(peak, float64(d)/b.at.Sub(a.at).Seconds())
	}
	return peak, total
}

// runHerd: many clients lose their sessions at once to an ensemble outage.
func runHerd(e *env) error {
	const scn = "herd"
	timeout := e.sz.herdTimeout
	nc, np := e.sz.herdMirrors, e.sz.herdPaths
	logf("herd: starting a 3-server ensemble")
	c, err := zktest.StartEnsemble(3, zktest.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	proxies := make([]*zktest.Proxy, len(c.Servers))
	var paddrs []string
	for i, s := range c.Servers {
		p, err := zktest.NewProxy(s.Addr())
		if err != nil {
			return err
		}
		defer p.Close()
		proxies[i] = p
		paddrs = append(paddrs, p.Addr())
	}
	root := benchRoot + "/herd"
	paths := childPaths(root, np)
	gen := 0
	values := func(g int) [][]byte {
		vs := make([][]byte, np)
		for i := range vs {
			vs[i] = labeled("g" + strconv.Itoa(g) + "-" + strconv.Itoa(i))
		}
		return vs
	}
	{
		admin, err := dialRaw(e.ctx, c.Addrs(), 10*time.Second, nil)
		if err != nil {
			return err
		}
		vs := values(0)
		err = ensureChildren(e.ctx, admin.Conn, root, np, func(i int) []byte { return vs[i] })
		admin.close()
		if err != nil {
			return err
		}
	}

	sides := []string{"mirror-j" + strconv.FormatFloat(e.sz.herdJitterHigh, 'f', -1, 64), "mirror-j0", "raw"}
	err = e.repeat(scn, "", sides, 3, func(ctx context.Context, side string, r rep) error {
		chk := &herdCheck{}
		initial := chk.reset(nc, values(gen))
		clients := make([]herdClient, nc)
		defer func() {
			var wg sync.WaitGroup
			for _, cl := range clients {
				if cl != nil {
					wg.Go(cl.close)
				}
			}
			wg.Wait()
		}()
		errs := make([]error, nc)
		var wg sync.WaitGroup
		for ci := range nc {
			wg.Go(func() {
				switch side {
				case "raw":
					cl, err := dialHerdRaw(ctx, paddrs, timeout, paths, func(p int, d []byte) { chk.observe(ci, p, d) })
					if err != nil {
						errs[ci] = err
						return
					}
					clients[ci] = cl
				default:
					jitter := 0.0
					if side != "mirror-j0" {
						jitter = e.sz.herdJitterHigh
					}
					m, err := connectMirror(ctx, paddrs, zkmirror.WithSessionTimeout(timeout), zkmirror.WithResyncJitter(jitter))
					if err != nil {
						errs[ci] = err
						return
					}
					clients[ci] = herdMirror{m}
					for pi, p := range paths {
						nd, err := m.Node(p)
						if err != nil {
							errs[ci] = err
							return
						}
						nd.AddValueWatcher("bench", func(v zkmirror.Value) { chk.observe(ci, pi, v.Data) })
					}
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		if err := waitFor(ctx, initial.done, 120*time.Second, "every client's first values"); err != nil {
			return err
		}

		// The outage: clients cut off, every server stopped for longer than the session
		// timeout, restarted, the data changed, clients kept off until the sessions the
		// servers restored have expired.
		for _, p := range proxies {
			p.Blackhole(0)
		}
		for _, s := range c.Servers {
			wg.Go(func() { errs[s.ID-1] = s.Stop() })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		if err := sleepCtx(ctx, timeout+500*time.Millisecond); err != nil {
			return err
		}
		for _, s := range c.Servers {
			if err := s.Launch(); err != nil {
				return err
			}
		}
		if err := c.WaitServing(60 * time.Second); err != nil {
			return err
		}
		gen++
		next := values(gen)
		writer, err := dialRaw(ctx, c.Addrs(), 10*time.Second, nil)
		if err != nil {
			return err
		}
		err = pipelined(ctx, np, 16, func(i int) error {
			_, err := writer.Set(paths[i], next[i], -1)
			return err
		})
		writer.close()
		if err != nil {
			return err
		}
		done := chk.reset(nc, next)
		if err := sleepCtx(ctx, timeout+time.Second); err != nil {
			return err
		}

		stopSampling := make(chan struct{})
		var samples []reqSample
		var sw sync.WaitGroup
		sw.Go(func() { samples = sampleRequests(c.Servers, 100*time.Millisecond, stopSampling) })
		if err := sleepCtx(ctx, 250*time.Millisecond); err != nil {
			close(stopSampling)
			sw.Wait()
			return err
		}
		t0 := time.Now()
		for _, p := range proxies {
			p.Restore()
		}
		werr := waitFor(ctx, done.done, 120*time.Second, "every client to hold every new value")
		if werr != nil && ctx.Err() == nil {
			behind, notExpired := 0, 0
			for ci, cl := range clients {
				if !chk.complete(ci) {
					behind++
				}
				if !cl.expired() {
					notExpired++
				}
			}
			werr = fmt.Errorf("%w: %d of %d clients behind, %d without an expiry", werr, behind, nc, notExpired)
		}
		var converged time.Time
		if werr == nil {
			converged = epoch.Add(time.Duration(done.at.Load()))
			werr = sleepCtx(ctx, 300*time.Millisecond) // one more sample after the end
		}
		close(stopSampling)
		sw.Wait()
		if werr != nil {
			return werr
		}
		peak, total := peakRate(samples, t0, converged)
		expired := 0
		var lastSession time.Time
		for _, cl := range clients {
			if cl.expired() {
				expired++
			}
			if at := cl.sessionAt(); at.After(lastSession) {
				lastSession = at
			}
		}
		if lastSession.After(t0) {
			e.put(scn, "", side, r, "sessions", "s", lastSession.Sub(t0).Seconds())
		}
		if expired < nc {
			logf("herd: %s: only %d of %d clients saw their session expire", side, expired, nc)
		}
		e.put(scn, "", side, r, "converge", "s", converged.Sub(t0).Seconds())
		e.put(scn, "", side, r, "peak req/s", "req/s", peak)
		e.put(scn, "", side, r, "requests", "count", float64(total))
		e.put(scn, "", side, r, "expired", "count", float64(expired))
		return nil
	})
	if err != nil {
		return err
	}
	hi := sides[0]
	label := fmt.Sprintf("%d clients × %d paths", nc, np)
	e.rec.summarize(scn, "", hi, "raw", "peak req/s", label+", jitter "+hi[len("mirror-j"):]+": peak requests", "req/s", nil, "")
	e.rec.summarize(scn, "", "mirror-j0", "raw", "peak req/s", label+", jitter 0: peak requests", "req/s", nil, "")
	e.rec.summarize(scn, "", hi, "raw", "converge", "jitter "+hi[len("mirror-j"):]+": reconnect → all equal server", "s", nil, "")
	e.rec.summarize(scn, "", "mirror-j0", "raw", "converge", "jitter 0: reconnect → all equal server", "s", nil, "")
	e.rec.summarize(scn, "", hi, "raw", "sessions", "reconnect → last client has a new session", "s", nil,
		"raw: go-zookeeper's default host list sleeps 1 s when it comes back round to its last server")
	e.rec.summarize(scn, "", hi, "raw", "requests", "jitter "+hi[len("mirror-j"):]+": requests until converged", "count", nil, "")
	e.rec.summarize(scn, "", "mirror-j0", "raw", "requests", "jitter 0: requests until converged", "count", nil, "")
	return nil
}
