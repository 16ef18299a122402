package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkmirror/zkmirror"
)

// churnCheck records what an observer holds for every node and when it got it.
type churnCheck struct {
	mu     sync.Mutex
	cur    [][]byte
	at     []int64 // mono() when cur was observed
	seen   int     // nodes with a first value
	change int     // values observed that differ from the node's previous one
	first  chan struct{}
	expect [][]byte // final values, once the writers stopped
	left   int      // nodes not yet at their final value
	done   chan struct{}
}

func newChurnCheck(n int) *churnCheck {
	return &churnCheck{cur: make([][]byte, n), at: make([]int64, n), first: make(chan struct{}), done: make(chan struct{})}
}

func (c *churnCheck) observe(i int, data []byte) {
	t := mono()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur[i] == nil {
		c.seen++
		if c.seen == len(c.cur) {
			close(c.first)
		}
	}
	if !bytes.Equal(c.cur[i], data) { // the time a node got its value, not a re-read of it
		c.cur[i], c.at[i] = data, t
		c.change++
	}
	if c.expect != nil && c.left > 0 && bytes.Equal(data, c.expect[i]) {
		c.left--
		if c.left == 0 {
			close(c.done)
		}
	}
}

// reset starts a new burst: no final values yet.
func (c *churnCheck) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expect, c.left, c.done = nil, 0, make(chan struct{})
}

// final sets the final values and returns a channel closed when every node holds its own.
func (c *churnCheck) final(expect [][]byte) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expect = expect
	for i := range expect {
		if !bytes.Equal(c.cur[i], expect[i]) {
			c.left++
		}
	}
	if c.left == 0 {
		close(c.done)
	}
	return c.done
}

func (c *churnCheck) get(i int) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur[i]
}

// changes returns how many changed values have been observed so far.
func (c *churnCheck) changes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.change
}

// prefix shortens data for messages.
func prefix(b []byte) []byte { return b[:min(len(b), 24)] }

// nodeLags returns, for every node written, how long after its last write was acknowledged
// the observer got its final value (0 when the observer had it first), in seconds.
func (c *churnCheck) nodeLags(lastAt []int64) []float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var lags []float64
	for i, t := range c.at {
		if lastAt[i] != 0 {
			lags = append(lags, float64(max(0, t-lastAt[i]))/1e9)
		}
	}
	return lags
}

// lastArrival is the latest time a node got its final value.
func (c *churnCheck) lastArrival() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var last int64
	for _, t := range c.at {
		last = max(last, t)
	}
	return last
}

// runChurn: writers update many nodes as fast as they can; how far behind is the observer
// when they stop, and does it end equal to the server?
func runChurn(e *env) error {
	const scn = "churn"
	root := benchRoot + "/churn"
	n, nw := e.sz.churnNodes, e.sz.churnWriters
	if err := ensureChildren(e.ctx, e.admin.Conn, root, n, func(int) []byte { return labeled("start") }); err != nil {
		return err
	}
	paths := childPaths(root, n)
	writers := make([]*rawConn, nw)
	for i := range writers {
		w, err := dialRaw(e.ctx, e.servers, 10*time.Second, nil)
		if err != nil {
			return err
		}
		defer w.close()
		writers[i] = w
	}
	round := 0

	// mirror+file: the mirror with WithSnapshotFile, writing the 1,000 nodes' states at
	// most once a second while they churn.
	dir, err := os.MkdirTemp("", "zkmirror-bench-churn-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	err = e.repeat(scn, "", []string{"mirror", "raw", "mirror+file"}, 5, func(ctx context.Context, side string, r rep) error {
		round++
		chk := newChurnCheck(n)
		var wg sync.WaitGroup
		var stop func()
		var nodes []*zkmirror.Node
		var reads func() int64 // reads the observer has issued so far
		switch side {
		case "mirror", "mirror+file":
			var opts []zkmirror.Option
			if side == "mirror+file" {
				opts = append(opts, zkmirror.WithSnapshotFile(filepath.Join(dir, "churn.snap")))
			}
			m, err := connectMirror(ctx, e.servers, opts...)
			if err != nil {
				return err
			}
			defer m.Close()
			reads = func() int64 { return m.Stats().Reads }
			wctx, cancel := context.WithCancel(ctx)
			for i, p := range paths {
				nd, err := m.Node(p)
				if err != nil {
					cancel()
					return err
				}
				nodes = append(nodes, nd)
				ch := nd.Watch(wctx)
				wg.Go(func() {
					for v := range ch {
						chk.observe(i, v.Data)
					}
				})
			}
			stop = func() { cancel(); wg.Wait() }
		case "raw":
			conn, err := dialRaw(ctx, e.servers, 10*time.Second, nil)
			if err != nil {
				return err
			}
			quit := make(chan struct{})
			var n atomic.Int64
			reads = n.Load
			for i, p := range paths {
				wg.Go(func() {
					getwLoop(conn.Conn, p, quit, func(d []byte) {
						n.Add(1)
						chk.observe(i, d)
					})
				})
			}
			stop = func() { close(quit); wg.Wait(); conn.close() }
		}
		defer stop()
		if err := waitFor(ctx, chk.first, 60*time.Second, "first values"); err != nil {
			return err
		}

		reads0 := reads()
		changes0 := chk.changes()
		var lags, nodeLags []float64
		var total int
		var elapsed, cpu time.Duration
		match := 1.0
		for b := range e.sz.churnBursts {
			bs, err := churnBurst(ctx, e, chk, writers, paths, nodes, fmt.Sprintf("r%d-b%d", round, b), round > 1 || b > 0)
			if err != nil {
				return err
			}
			lags = append(lags, bs.lag.Seconds())
			nodeLags = append(nodeLags, bs.nodeLags...)
			total += bs.writes
			elapsed += bs.elapsed
			cpu += bs.cpu
			if !bs.match {
				match = 0
			}
		}
		observed := chk.changes() - changes0
		issued := reads() - reads0
		e.put(scn, "", side, r, "lag", "s", median(lags))
		if len(nodeLags) > 0 {
			e.put(scn, "", side, r, "node lag p50", "s", percentile(nodeLags, 50))
			e.put(scn, "", side, r, "node lag p99", "s", percentile(nodeLags, 99))
		}
		e.put(scn, "", side, r, "writes/s", "1/s", float64(total)/elapsed.Seconds())
		e.put(scn, "", side, r, "final matches", "bool", match)
		e.put(scn, "", side, r, "reads/write", "x", float64(issued)/float64(total))
		if observed > 0 {
			e.put(scn, "", side, r, "cpu/change", "s", cpu.Seconds()/float64(observed))
		}
		return nil
	})
	if err != nil {
		return err
	}
	label := fmt.Sprintf("%d writers × %d nodes:", nw, n)
	tl := ratioAtMost(2)
	e.rec.summarize(scn, "", "mirror", "raw", "lag", label+" lag when writers stop", "s", &tl, "")
	e.rec.summarize(scn, "", "mirror", "raw", "node lag p50", "last write → observed, per node, p50", "s", nil, "")
	e.rec.summarize(scn, "", "mirror", "raw", "node lag p99", "last write → observed, per node, p99", "s", nil, "")
	e.rec.summarize(scn, "", "mirror", "raw", "writes/s", "writes/s while observed", "1/s", nil, "")
	e.rec.summarize(scn, "", "mirror", "raw", "reads/write", "observer reads per write", "x", nil, "")
	e.rec.summarize(scn, "", "mirror", "raw", "cpu/change", "process CPU per observed change", "s", nil, "")
	tg := valueEquals(1, "bool")
	e.rec.summarize(scn, "", "mirror", "raw", "final matches", "final state equals server", "bool", &tg, "")
	e.rec.summarize(scn, "", "mirror+file", "mirror", "lag", label+" lag, snapshot file on / off", "s", nil, "")
	e.rec.summarize(scn, "", "mirror+file", "mirror", "writes/s", "writes/s while observed, snapshot file on / off", "1/s", nil, "")
	e.rec.summarize(scn, "", "mirror+file", "", "final matches", "final state equals server, snapshot file on", "bool", &tg, "")
	return nil
}

// burstStats is what one burst of writes measured.
type burstStats struct {
	lag      time.Duration // last write acknowledged → every node observed at its final value
	nodeLags []float64     // per node: its last write acknowledged → observed, in seconds
	writes   int
	elapsed  time.Duration
	cpu      time.Duration // process CPU from the writers' start until the observer caught up
	match    bool          // the observer's final state (and the mirror's Values) equal the server's
}

// churnBurst runs the writers for churnFor, waits until the observer holds every final
// value, and checks it against the server. Writer w owns nodes w, w+nw, … tag makes the
// values of this burst unique; written says every node was written before it.
func churnBurst(ctx context.Context, e *env, chk *churnCheck, writers []*rawConn, paths []string, nodes []*zkmirror.Node, tag string, written bool) (burstStats, error) {
	n, nw := len(paths), len(writers)
	chk.reset()
	last := make([][]byte, n)
	lastAt := make([]int64, n) // mono() when the node's last write was acknowledged
	lastAck := make([]int64, nw)
	writes := make([]int, nw)
	errs := make([]error, nw)
	cpu0 := cpuTime()
	end := time.Now().Add(e.sz.churnFor)
	var ww sync.WaitGroup
	t0 := time.Now()
	for w := range nw {
		ww.Go(func() {
			k := 0
			for time.Now().Before(end) && ctx.Err() == nil {
				for i := w; i < n; i += nw {
					k++
					d := labeled(tag + "-w" + strconv.Itoa(w) + "-" + strconv.Itoa(k))
					if _, err := writers[w].Set(paths[i], d, -1); err != nil {
						errs[w] = fmt.Errorf("writer %d: set %s: %w", w, paths[i], err)
						return
					}
					last[i] = d
					writes[w]++
					lastAck[w] = mono()
					lastAt[i] = lastAck[w]
					if !time.Now().Before(end) {
						break
					}
				}
			}
		})
	}
	ww.Wait()
	bs := burstStats{elapsed: time.Since(t0)}
	var stopAt int64
	for w := range nw {
		if errs[w] != nil {
			return bs, errs[w]
		}
		stopAt = max(stopAt, lastAck[w])
		bs.writes += writes[w]
	}
	expect := make([][]byte, n)
	for i := range expect {
		expect[i] = last[i]
		if expect[i] == nil { // not written in this burst (tiny -quick runs)
			if written {
				expect[i] = chk.get(i)
				continue
			}
			expect[i] = labeled("start")
		}
	}
	if err := waitFor(ctx, chk.final(expect), 60*time.Second, "the observer to catch up"); err != nil {
		return bs, err
	}
	bs.cpu = cpuTime() - cpu0
	bs.lag = time.Duration(max(0, chk.lastArrival()-stopAt))
	bs.nodeLags = chk.nodeLags(lastAt)

	// Final state: the mirror's own Value against a fresh read from the server.
	var mismatches atomic.Int64
	var firstMismatch atomic.Pointer[string]
	if err := pipelined(ctx, n, readConcurrency, func(i int) error {
		data, _, err := e.admin.Get(paths[i])
		if err != nil {
			return err
		}
		held := chk.get(i)
		if nodes != nil {
			v, err := nodes[i].Value(ctx)
			if err != nil {
				return err
			}
			held = v.Data
		}
		if !bytes.Equal(held, data) || !bytes.Equal(data, expect[i]) {
			mismatches.Add(1)
			msg := fmt.Sprintf("%s: observer %q, server %q, last written %q", paths[i], prefix(held), prefix(data), prefix(expect[i]))
			firstMismatch.CompareAndSwap(nil, &msg)
		}
		return nil
	}); err != nil {
		return bs, fmt.Errorf("final state: %w", err)
	}
	bs.match = mismatches.Load() == 0
	if !bs.match {
		logf("churn: %d nodes differ from the server, e.g. %s", mismatches.Load(), *firstMismatch.Load())
	}
	return bs, nil
}
