package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// fanState tracks one value's arrival at every subscriber.
type fanState struct {
	want  atomic.Uint64
	first atomic.Int64
	last  atomic.Int64
	cd    atomic.Pointer[countdown]
}

// arm starts waiting for seq at n subscribers.
func (f *fanState) arm(seq uint64, n int) *countdown {
	cd := newCountdown(n)
	f.first.Store(0)
	f.last.Store(0)
	f.cd.Store(cd)
	f.want.Store(seq) // last: a subscriber that sees seq finds the new countdown
	return cd
}

// saw is called by a subscriber for every value it receives.
func (f *fanState) saw(data []byte) {
	if w := f.want.Load(); w == 0 || seqOf(data) != w {
		return
	}
	t := mono()
	storeMin(&f.first, t)
	storeMax(&f.last, t)
	f.cd.Load().hit()
}

// runFanout: many subscribers of one node. Mirror: Node.Watch per subscriber. Raw: one GetW
// re-arm loop broadcasting to one-slot conflating channels. Subscribers are goroutines
// that range over their channel.
func runFanout(e *env) error {
	const scn = "fanout"
	path := benchRoot + "/fanout"
	if err := ensurePath(e.admin.Conn, path); err != nil {
		return err
	}
	writer, err := dialRaw(e.ctx, e.servers, 10*time.Second, nil)
	if err != nil {
		return err
	}
	defer writer.close()
	watches := serverWatchCount(e.server, e.servers[0])
	subs := e.sz.fanoutSubs

	err = e.repeat(scn, "", []string{"mirror", "raw"}, 7, func(ctx context.Context, side string, r rep) error {
		base, werr := watches()
		fs := &fanState{}
		var wg sync.WaitGroup
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
			sctx, cancel := context.WithCancel(ctx)
			for range subs {
				ch := n.Watch(sctx)
				wg.Go(func() {
					for v := range ch {
						fs.saw(v.Data)
					}
				})
			}
			stop = func() { cancel(); wg.Wait() }
		case "raw":
			conn, err := dialRaw(ctx, e.servers, 10*time.Second, nil)
			if err != nil {
				return err
			}
			chans := make([]chan []byte, subs)
			for i := range chans {
				ch := make(chan []byte, 1)
				chans[i] = ch
				wg.Go(func() {
					for d := range ch {
						fs.saw(d)
					}
				})
			}
			quit := make(chan struct{})
			var loop sync.WaitGroup
			loop.Go(func() {
				getwLoop(conn.Conn, path, quit, func(d []byte) {
					for _, ch := range chans {
						select {
						case ch <- d:
						default: // conflate: replace the unread value
							select {
							case <-ch:
							default:
							}
							ch <- d
						}
					}
				})
			})
			stop = func() {
				close(quit)
				loop.Wait()
				conn.close()
				for _, ch := range chans {
					close(ch)
				}
				wg.Wait()
			}
		}
		defer stop()

		// Every subscriber has a first value and the watch is armed.
		seq := seqCounter.Add(1)
		cd := fs.arm(seq, subs)
		if _, err := writer.Set(path, payload(seq), -1); err != nil {
			return err
		}
		if err := waitFor(ctx, cd.done, 30*time.Second, "every subscriber's first value"); err != nil {
			return err
		}
		if werr == nil {
			if after, err := watches(); err == nil {
				e.put(scn, "", side, r, "watches", "count", float64(after-base))
			}
		}
		for range e.sz.fanoutSets {
			seq := seqCounter.Add(1)
			cd := fs.arm(seq, subs)
			t0 := mono()
			if _, err := writer.Set(path, payload(seq), -1); err != nil {
				return err
			}
			if err := waitFor(ctx, cd.done, 30*time.Second, fmt.Sprintf("value %d at every subscriber", seq)); err != nil {
				return err
			}
			first, last := fs.first.Load(), fs.last.Load()
			e.put(scn, "", side, r, "first", "s", float64(first-t0)/1e9)
			e.put(scn, "", side, r, "last", "s", float64(last-t0)/1e9)
			e.put(scn, "", side, r, "spread", "s", float64(last-first)/1e9)
		}
		return nil
	})
	if err != nil {
		return err
	}
	label := fmt.Sprintf("%d subscribers:", subs)
	e.rec.summarize(scn, "", "mirror", "raw", "first", label+" set→first", "s", nil, "")
	e.rec.summarize(scn, "", "mirror", "raw", "last", label+" set→last", "s", nil, "")
	tg := allOf(ratioAtMost(1.0), valueAtMost(0.005, "s"))
	e.rec.summarize(scn, "", "mirror", "raw", "spread", "last − first subscriber", "s", &tg, "")
	tw := valueEquals(1, "count")
	e.rec.summarize(scn, "", "mirror", "raw", "watches", "ZooKeeper watches held", "count", &tw, "")
	return nil
}
