package zkmirror

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// dispatcher runs watcher callbacks on one goroutine per Mirror, never on go-zookeeper's.
// Each watcher has a one-slot conflating mailbox like any subscriber; a delivery queues the
// watcher once, so the queue is bounded by the number of watchers and a slow callback makes
// its watcher skip to the latest snapshot rather than build a backlog. Watchers of one path
// run in the order their snapshots were published.
type dispatcher struct {
	log *slog.Logger

	mu    sync.Mutex
	queue []runner
	wake  chan struct{}
	quit  chan struct{}
	done  chan struct{}
	once  sync.Once
}

type runner interface{ run(log *slog.Logger) }

func newDispatcher(log *slog.Logger) *dispatcher {
	d := &dispatcher{log: log, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go d.loop()
	return d
}

func (d *dispatcher) enqueue(r runner) {
	d.mu.Lock()
	d.queue = append(d.queue, r)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *dispatcher) loop() {
	defer close(d.done)
	var batch []runner
	for {
		select {
		case <-d.quit:
			return
		case <-d.wake:
		}
		for {
			d.mu.Lock()
			batch, d.queue = d.queue, batch[:0]
			d.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			for i, r := range batch {
				select {
				case <-d.quit:
					return
				default:
				}
				r.run(d.log)
				batch[i] = nil
			}
		}
	}
}

// close stops the dispatcher after the callback running now, if any, and waits for it; it
// must not run on the dispatcher's goroutine.
func (d *dispatcher) close() {
	d.once.Do(func() { close(d.quit) })
	<-d.done
}

// watcher is one keyed callback on one path's stream.
type watcher[T any] struct {
	d       *dispatcher
	s       *Stream[T]
	mb      *mailbox[T]
	fn      func(T)
	path    string
	queued  atomic.Bool
	removed atomic.Bool
}

func newWatcher[T any](d *dispatcher, s *Stream[T], path string, fn func(T)) *watcher[T] {
	w := &watcher[T]{d: d, s: s, fn: fn, path: path}
	w.mb = newMailbox[T](w.notify, nil)
	return w
}

// notify runs under the stream's lock after a delivery: O(1) hand-off.
func (w *watcher[T]) notify() {
	if w.queued.CompareAndSwap(false, true) {
		w.d.enqueue(w)
	}
}

func (w *watcher[T]) run(log *slog.Logger) {
	w.queued.Store(false)
	var v T
	var ok bool
	select {
	case v, ok = <-w.mb.ch:
	default:
	}
	if !ok || w.removed.Load() {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			log.Error("watcher callback panicked", "path", w.path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	w.fn(v)
}

func (w *watcher[T]) remove() {
	w.removed.Store(true)
	w.s.unsubscribe(w.mb)
}
