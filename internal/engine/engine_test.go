package engine

import (
	"strconv"
	"testing"

	"github.com/go-zookeeper/zk"
)

// The admit rule: monotonic within one history, authoritative for a resync read.
func TestAdmit(t *testing.T) {
	type state struct {
		exists       bool
		czxid, mzxid int64
	}
	none := (*state)(nil)
	at := func(c, m int64) *state { return &state{true, c, m} }
	absent := &state{}
	cases := []struct {
		name      string
		cur       *state // nil: no contact yet
		tomb      int64
		writeMark uint64
		in        state
		resync    bool
		fromRead  bool
		seq       uint64
		want      verdict
		wantTomb  int64
		wantBack  bool
	}{
		{"first contact", none, 0, 0, state{true, 5, 7}, false, true, 1, emitNew, 0, false},
		{"newer change", at(5, 7), 0, 0, state{true, 5, 9}, false, true, 1, emitNew, 0, false},
		{"re-created", at(5, 7), 0, 0, state{true, 8, 8}, false, true, 1, emitNew, 0, false},
		{"same state", at(5, 7), 0, 0, state{true, 5, 7}, false, true, 1, keepCurrent, 0, false},
		{"older state", at(5, 7), 0, 0, state{true, 5, 6}, false, true, 1, keepCurrent, 0, false},
		{"older incarnation", at(5, 7), 0, 0, state{true, 3, 9}, false, true, 1, keepCurrent, 0, false},
		{"deleted", at(5, 7), 0, 0, state{}, false, true, 1, emitNew, 5, false},
		{"deleted incarnation again", absent, 5, 0, state{true, 5, 7}, false, true, 1, keepCurrent, 5, false},
		{"deleted incarnation at first contact", none, 5, 0, state{true, 5, 7}, false, true, 1, readAgain, 5, false},
		{"new incarnation after a tombstone", absent, 5, 0, state{true, 9, 9}, false, true, 1, emitNew, 5, false},
		{"absence read before a write", at(5, 7), 0, 3, state{}, false, true, 2, readAgain, 0, false},
		{"write: older state", at(5, 7), 0, 0, state{true, 5, 6}, false, false, 0, keepCurrent, 0, false},
		{"write: newer state", at(5, 7), 0, 0, state{true, 5, 8}, false, false, 0, emitNew, 0, false},

		{"resync: same state", at(5, 7), 0, 0, state{true, 5, 7}, true, true, 1, emitNew, 0, false},
		{"resync: newer state", at(5, 7), 0, 0, state{true, 5, 9}, true, true, 1, emitNew, 0, false},
		{"resync: lower zxids", at(50, 70), 0, 0, state{true, 3, 4}, true, true, 1, emitNew, 0, true},
		{"resync: lower mzxid", at(5, 70), 0, 0, state{true, 5, 4}, true, true, 1, emitNew, 0, true},
		{"resync: below a tombstone", absent, 50, 0, state{true, 3, 3}, true, true, 1, emitNew, 0, true},
		{"resync: the tombstone's incarnation", absent, 50, 0, state{true, 50, 60}, true, true, 1, emitNew, 0, false},
		{"resync: above a tombstone", absent, 50, 0, state{true, 60, 60}, true, true, 1, emitNew, 50, false},
		{"resync: deleted", at(50, 70), 40, 0, state{}, true, true, 1, emitNew, 0, false},
		{"resync: absent at first contact", none, 0, 0, state{}, true, true, 1, emitNew, 0, false},
		{"resync: issued before a write", at(50, 70), 0, 3, state{true, 3, 4}, true, true, 3, readAgain, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cur := mirrored{tomb: c.tomb, writeMark: c.writeMark}
			if c.cur != nil {
				cur.has, cur.exists, cur.czxid, cur.zxid = true, c.cur.exists, c.cur.czxid, c.cur.mzxid
			}
			d := admit(cur, found{exists: c.in.exists, czxid: c.in.czxid, zxid: c.in.mzxid, resync: c.resync, fromRead: c.fromRead, seq: c.seq})
			if d.verdict != c.want || d.tomb != c.wantTomb || d.historyBack != c.wantBack {
				t.Errorf("admit %v, tomb %d, went back %v; want %v, %d, %v", d.verdict, d.tomb, d.historyBack, c.want, c.wantTomb, c.wantBack)
			}
		})
	}
}

// What the engine believes the session holds on the server, as reads arm watches and
// events fire them.
func TestArmedWatches(t *testing.T) {
	type step struct {
		begin bool      // a read of /p starts
		end   watchBits // a read of /p ends, having armed these
		drop  bool      // the read's answer is not from this session
		ev    zk.EventType
		lost  bool // watches not restored after a reconnect
	}
	begin := step{begin: true}
	end := func(w watchBits) step { return step{end: w} }
	ev := func(t zk.EventType) step { return step{ev: t} }
	cases := []struct {
		name  string
		steps []step
		want  watchBits
	}{
		{"data armed", []step{begin, end(armedData)}, armedData},
		{"both armed", []step{begin, end(armedData), begin, end(armedChild)}, armedData | armedChild},
		{"nothing armed", []step{begin, end(0)}, 0},
		{"answer from another session", []step{begin, {end: armedData, drop: true}}, 0},
		{"data changed", []step{begin, end(armedData | armedChild), ev(zk.EventNodeDataChanged)}, armedChild},
		{"created", []step{begin, end(armedData | armedChild), ev(zk.EventNodeCreated)}, armedChild},
		{"children changed", []step{begin, end(armedData | armedChild), ev(zk.EventNodeChildrenChanged)}, armedData},
		{"deleted", []step{begin, end(armedData | armedChild), ev(zk.EventNodeDeleted)}, 0},
		{"not watching", []step{begin, end(armedData | armedChild), ev(zk.EventNotWatching)}, 0},
		{"watches lost", []step{begin, end(armedData | armedChild), {lost: true}}, 0},
		{"fired during the read", []step{begin, ev(zk.EventNodeDataChanged), end(armedData | armedChild)}, armedChild},
		{"fired during an overlapping read", []step{begin, begin, ev(zk.EventNodeDeleted), end(armedData), end(armedChild)}, 0},
		{"lost during the read", []step{begin, {lost: true}, end(armedData)}, 0},
		{"armed again after firing", []step{begin, end(armedData), ev(zk.EventNodeDataChanged), begin, end(armedData)}, armedData},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := New(Config{ReadConcurrency: 1})
			for _, s := range c.steps {
				switch {
				case s.begin:
					g.mu.Lock()
					g.beginArmingLocked("/p")
					g.mu.Unlock()
				case s.ev != 0:
					g.OnNodeEvent(zk.Event{Type: s.ev, Path: "/p"})
				case s.lost:
					g.OnWatchesLost()
				default:
					g.mu.Lock()
					g.endArmingLocked("/p", s.end, !s.drop)
					g.mu.Unlock()
				}
			}
			if got := g.armed["/p"]; got != c.want {
				t.Errorf("armed %b, want %b", got, c.want)
			}
			if len(g.arming) != 0 {
				t.Errorf("reads in flight left: %v", g.arming)
			}
			if _, ok := g.armed["/p"]; ok != (c.want != 0) {
				t.Errorf("an entry for nothing armed")
			}
		})
	}
}

// The memory of armed watches shrinks when most of them have fired.
func TestArmedWatchesShrink(t *testing.T) {
	g := New(Config{ReadConcurrency: 1})
	const n = 5000
	g.mu.Lock()
	for i := range n {
		p := "/p" + strconv.Itoa(i)
		g.beginArmingLocked(p)
		g.endArmingLocked(p, armedData, true)
	}
	g.mu.Unlock()
	if g.armedPeak != n {
		t.Fatalf("peak %d", g.armedPeak)
	}
	for i := range n - 10 {
		g.OnNodeEvent(zk.Event{Type: zk.EventNodeDeleted, Path: "/p" + strconv.Itoa(i)})
	}
	if len(g.armed) != 10 || g.armedPeak >= n/4 {
		t.Fatalf("%d armed, peak %d: not rebuilt", len(g.armed), g.armedPeak)
	}
}

// The watches of a held path live in its entry, costing no map entry; they move to the map
// when the entry is freed and back when the path is held again, and an event or an expiry
// forgets them wherever they are.
func TestArmedWatchesFollowTheEntry(t *testing.T) {
	g := New(Config{ReadConcurrency: 1})
	g.mu.Lock()
	h := nopHolder{}
	e := g.acquireLocked("/p", KindData, h)
	g.beginArmingLocked("/p")
	g.endArmingLocked("/p", armedData, true)
	if e.armed != armedData || len(g.armed) != 0 {
		t.Fatalf("held: entry %b, map %v", e.armed, g.armed)
	}
	g.releaseLocked("/p", e, KindData, h)
	if g.armed["/p"] != armedData {
		t.Fatalf("released: map %v", g.armed)
	}
	e = g.acquireLocked("/p", KindChildren, h)
	if e.armed != armedData || len(g.armed) != 0 {
		t.Fatalf("held again: entry %b, map %v", e.armed, g.armed)
	}
	g.mu.Unlock()
	if !g.isArmed("/p", armedData) || g.isArmed("/p", armedChild) {
		t.Fatal("isArmed does not read the entry")
	}
	g.OnNodeEvent(zk.Event{Type: zk.EventNodeDataChanged, Path: "/p"})
	if e.armed != 0 {
		t.Fatalf("fired watch kept: %b", e.armed)
	}
	g.mu.Lock()
	g.beginArmingLocked("/p")
	g.endArmingLocked("/p", armedChild, true)
	g.forgetWatchesLocked()
	if e.armed != 0 {
		t.Fatalf("expiry kept the entry's watches: %b", e.armed)
	}
	g.releaseLocked("/p", e, KindChildren, h)
	if len(g.armed) != 0 {
		t.Fatalf("nothing armed, yet the map holds %v", g.armed)
	}
	g.mu.Unlock()
}

// nopHolder holds paths and ignores what it is given.
type nopHolder struct{}

func (nopHolder) Deliver(string, Kind, *Record, bool) {}

// A watch whose event waits for the pump (it found the engine's lock taken) has fired: a
// read that acts on a reply behind that event must not rely on the watch. (Here no pump
// runs: the engine is not started.)
func TestQueuedEventFiresTheWatch(t *testing.T) {
	g := New(Config{ReadConcurrency: 1})
	g.mu.Lock()
	g.beginArmingLocked("/p")
	g.endArmingLocked("/p", armedData|armedChild, true)
	g.mu.Unlock()
	release := g.HoldLock()
	g.OnNodeEvent(zk.Event{Type: zk.EventNodeDataChanged, Path: "/p"}) // queued: the lock is taken
	release()
	if g.events.Len() != 1 {
		t.Fatalf("%d events queued, want 1", g.events.Len())
	}
	if g.isArmed("/p", armedData) {
		t.Fatal("the data watch counts as armed while its event waits for the pump")
	}
	if !g.isArmed("/p", armedChild) {
		t.Fatal("the child watch, which did not fire, was forgotten")
	}
}
