package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// seqCounter makes every value the benchmark writes unique across repetitions.
var seqCounter atomic.Uint64

// observation is a value seen by an observer, with when it was seen.
type observation struct {
	seq uint64
	at  int64 // mono()
}

// observer hands observations to the writer without ever blocking the observing goroutine.
type observer struct{ ch chan observation }

func newObserver() *observer { return &observer{ch: make(chan observation, 4096)} }

func (o *observer) saw(data []byte) {
	select {
	case o.ch <- observation{seqOf(data), mono()}:
	default:
	}
}

// await returns when seq was observed.
func (o *observer) await(ctx context.Context, seq uint64) (int64, error) {
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case ob := <-o.ch:
			if ob.seq == seq {
				return ob.at, nil
			}
		case <-t.C:
			return 0, fmt.Errorf("value %d not observed after 10s", seq)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// runLatency: one node; a writer connection sets it, an observer sees the change. The
// mirror observes through Node.Watch; the raw observer is a GetW re-arm loop on its own
// connection. Latency is from just before the writer's Set to the observer holding the
// value; p50 and p99 over every measured set.
func runLatency(e *env) error {
	const scn = "latency"
	path := benchRoot + "/latency"
	if err := ensurePath(e.admin.Conn, path); err != nil {
		return err
	}
	writer, err := dialRaw(e.ctx, e.servers, 10*time.Second, nil)
	if err != nil {
		return err
	}
	defer writer.close()

	sets := e.sz.latencySets
	err = e.repeat(scn, "", []string{"mirror", "raw"}, 7, func(ctx context.Context, side string, r rep) error {
		obs := newObserver()
		var stop func()
		switch side {
		case "mirror":
			m, err := connectMirror(ctx, e.servers)
			if err != nil {
				return err
			}
			defer m.Close()
			n, err := m.Node(path)
			if err != nil {
				return err
			}
			wctx, cancel := context.WithCancel(ctx)
			ch := n.Watch(wctx)
			var wg sync.WaitGroup
			wg.Go(func() {
				for v := range ch {
					obs.saw(v.Data)
				}
			})
			stop = func() { cancel(); wg.Wait() }
		case "raw":
			conn, err := dialRaw(ctx, e.servers, 10*time.Second, nil)
			if err != nil {
				return err
			}
			quit := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() { getwLoop(conn.Conn, path, quit, obs.saw) })
			stop = func() { close(quit); wg.Wait(); conn.close() }
		}
		defer stop()
		// First contact: the current value, then one change to be sure the watch is armed.
		seq := seqCounter.Add(1)
		if _, err := writer.Set(path, payload(seq), -1); err != nil {
			return err
		}
		if _, err := obs.await(ctx, seq); err != nil {
			return fmt.Errorf("first value: %w", err)
		}
		cpu0 := cpuTime()
		for range sets {
			seq := seqCounter.Add(1)
			t0 := mono()
			if _, err := writer.Set(path, payload(seq), -1); err != nil {
				return err
			}
			at, err := obs.await(ctx, seq)
			if err != nil {
				return err
			}
			e.put(scn, "", side, r, "latency", "s", float64(at-t0)/1e9)
		}
		if sets > 0 {
			e.put(scn, "", side, r, "cpu/change", "s", (cpuTime()-cpu0).Seconds()/float64(sets))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range []struct {
		q     float64
		label string
		max   float64 // the target: mirror/raw at most this
	}{{50, "set→observed p50", 1.05}, {99, "set→observed p99", 1.10}} {
		mv := e.rec.values(scn, "", "mirror", "latency")
		rv := e.rec.values(scn, "", "raw", "latency")
		m, rw := percentile(mv, p.q), percentile(rv, p.q)
		ratio := m / rw
		q := p.q
		iqr := e.rec.ratioIQR(scn, "", "mirror", "raw", "latency", func(vs []float64) float64 { return percentile(vs, q) })
		res := row{Scenario: scn, Metric: p.label, Unit: "s", Mirror: m, Raw: &rw, Ratio: &ratio, RatioIQR: iqr, N: len(mv)}
		tg := ratioAtMost(p.max)
		e.rec.judge(&res, &tg)
		e.rec.addRow(res)
	}
	e.rec.summarize(scn, "", "mirror", "raw", "cpu/change", "process CPU per observed change", "s", nil, "")
	return nil
}

// getwLoop is the raw observer: read with a watch, hand the data on, wait for the watch,
// read again. It returns when quit closes (or the connection does).
func getwLoop(conn *zk.Conn, path string, quit <-chan struct{}, saw func([]byte)) {
	for {
		data, _, ch, err := conn.GetW(path)
		if err != nil {
			select {
			case <-quit:
				return
			case <-time.After(10 * time.Millisecond):
				continue
			}
		}
		saw(data)
		select {
		case <-ch:
		case <-quit:
			return
		}
	}
}
