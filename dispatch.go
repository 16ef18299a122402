package zkmirror

import (
	"bytes"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync/atomic"

	"github.com/zkmirror/zkmirror/internal/inbox"
	"github.com/zkmirror/zkmirror/internal/run"
)

// dispatcher runs watcher callbacks on one goroutine per Mirror, never on go-zookeeper's.
// Each watcher has a one-slot conflating mailbox like any subscriber; a delivery queues the
// watcher once, so the queue is bounded by the number of watchers and a slow callback makes
// its watcher skip to the latest snapshot rather than build a backlog. Watchers of one path
// run in the order their snapshots were published.
type dispatcher struct {
	log   *slog.Logger
	queue inbox.Queue[runner] // watchers with a delivery to run
	grp   run.Group           // the loop
	gid   atomic.Uint64       // the loop's goroutine id, once it runs
}

type runner interface{ run(log *slog.Logger) }

func newDispatcher(log *slog.Logger) *dispatcher {
	d := &dispatcher{log: log, queue: inbox.NewQueue[runner](), grp: run.NewGroup()}
	d.grp.Go(d.loop)
	return d
}

func (d *dispatcher) enqueue(r runner) { d.queue.Put(r) }

func (d *dispatcher) loop() {
	d.gid.Store(goroutineID())
	var batch []runner
	for {
		select {
		case <-d.grp.Stopping():
			return
		case <-d.queue.Ready():
		}
		for {
			batch = d.queue.Take(batch)
			if len(batch) == 0 {
				break
			}
			for _, r := range batch {
				select {
				case <-d.grp.Stopping():
					return
				default:
				}
				r.run(d.log)
			}
		}
	}
}

// close stops the dispatcher after the callback running now, if any, and waits for it to
// end. Called from a callback, it only stops it: the dispatcher ends by itself as soon as
// that callback returns.
func (d *dispatcher) close() {
	d.stop()
	if !d.onLoop() {
		d.grp.Wait()
	}
}

// stop tells the dispatcher to end after the callback running now, if any. Idempotent.
func (d *dispatcher) stop() { d.grp.Stop() }

// onLoop reports whether the caller runs on the dispatcher's goroutine, in a callback.
func (d *dispatcher) onLoop() bool {
	id := d.gid.Load()
	return id != 0 && id == goroutineID()
}

// goroutineID returns the calling goroutine's id, from the first line of its stack trace
// ("goroutine 18 [running]:"); 0 if that cannot be read.
func goroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b, ok := bytes.CutPrefix(b, []byte("goroutine "))
	if !ok {
		return 0
	}
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0
	}
	return id
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
