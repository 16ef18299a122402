package zkmirror

import (
	"io"
	"log/slog"
	"testing"
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
	g := newEngine(slog.New(slog.NewTextHandler(io.Discard, nil)), "", 1, 0)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := &entry{path: "/p", tomb: c.tomb, writeMark: c.writeMark}
			if c.cur != nil {
				e.rec = e.rec.with(kindData, c.cur.exists, []byte("x"), nil, Stat{Czxid: c.cur.czxid, Mzxid: c.cur.mzxid}, nil)
			}
			got, back := g.admit(e, kindData, c.in.exists, c.in.czxid, c.in.mzxid, nil, c.resync, c.seq, c.fromRead)
			if got != c.want || e.tomb != c.wantTomb || back != c.wantBack {
				t.Errorf("admit %v, tomb %d, went back %v; want %v, %d, %v", got, e.tomb, back, c.want, c.wantTomb, c.wantBack)
			}
		})
	}
}
