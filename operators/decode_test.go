package operators_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/internal/chantest"
	"github.com/zkmirror/zkmirror/leaktest"
	"github.com/zkmirror/zkmirror/operators"
)

type config struct {
	Port int      `json:"port"`
	Tags []string `json:"tags"`
}

func TestDecodeJSON(t *testing.T) {
	leaktest.Check(t)
	errRead := errors.New("read failed")
	tests := []struct {
		name       string
		snap       zkmirror.Value
		want       config
		wantExists bool
		check      func(error) bool // nil: no error
	}{
		{
			name:       "valid",
			snap:       zkmirror.Value{Path: "/c", Data: []byte(`{"port":80,"tags":["a"]}`), Exists: true},
			want:       config{Port: 80, Tags: []string{"a"}},
			wantExists: true,
		},
		{
			name:       "invalid JSON",
			snap:       zkmirror.Value{Path: "/c", Data: []byte(`{"port":`), Exists: true},
			wantExists: true,
			check: func(err error) bool {
				var se *json.SyntaxError
				return errors.As(err, &se)
			},
		},
		{
			name:       "wrong type",
			snap:       zkmirror.Value{Path: "/c", Data: []byte(`{"port":"eighty"}`), Exists: true},
			wantExists: true,
			check: func(err error) bool {
				var te *json.UnmarshalTypeError
				return errors.As(err, &te)
			},
		},
		{
			name:       "empty data",
			snap:       zkmirror.Value{Path: "/c", Exists: true},
			wantExists: true,
			check: func(err error) bool {
				var se *json.SyntaxError
				return errors.As(err, &se)
			},
		},
		{
			name: "missing node",
			snap: zkmirror.Value{Path: "/c", Exists: false},
		},
		{
			name:  "snapshot error",
			snap:  zkmirror.Value{Path: "/c", Err: errRead},
			check: func(err error) bool { return err == errRead },
		},
		{
			name:       "snapshot error on existing node is not decoded",
			snap:       zkmirror.Value{Path: "/c", Data: []byte(`{"port":1}`), Exists: true, Err: errRead},
			wantExists: true,
			check:      func(err error) bool { return err == errRead },
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// All the snapshots go through one stream: an error does not end it.
	snaps := make([]zkmirror.Value, len(tests))
	for i, tt := range tests {
		snaps[i] = tt.snap
	}
	got := chantest.Collect(t, operators.DecodeJSON[config](ctx, chantest.Source(ctx, snaps...)))
	if len(got) != len(tests) {
		t.Fatalf("got %d results, want %d", len(got), len(tests))
	}
	for i, tt := range tests {
		d := got[i]
		if !reflect.DeepEqual(d.Snapshot, tt.snap) {
			t.Errorf("%s: Snapshot = %+v, want %+v", tt.name, d.Snapshot, tt.snap)
		}
		if d.Exists != tt.wantExists {
			t.Errorf("%s: Exists = %v, want %v", tt.name, d.Exists, tt.wantExists)
		}
		if !reflect.DeepEqual(d.Value, tt.want) {
			t.Errorf("%s: Value = %+v, want %+v", tt.name, d.Value, tt.want)
		}
		switch {
		case tt.check == nil && d.Err != nil:
			t.Errorf("%s: Err = %v, want nil", tt.name, d.Err)
		case tt.check != nil && (d.Err == nil || !tt.check(d.Err)):
			t.Errorf("%s: Err = %v (%T), not the one expected", tt.name, d.Err, d.Err)
		}
	}
}

// TestDecodeJSONFreshValue checks that each snapshot is decoded into a fresh value: fields
// absent from a later snapshot do not keep the earlier snapshot's values.
func TestDecodeJSONFreshValue(t *testing.T) {
	leaktest.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := chantest.Collect(t, operators.DecodeJSON[config](ctx, chantest.Source(ctx,
		zkmirror.Value{Data: []byte(`{"port":1,"tags":["x"]}`), Exists: true},
		zkmirror.Value{Data: []byte(`{"port":2}`), Exists: true},
	)))
	if len(got) != 2 || got[1].Value.Tags != nil || got[1].Value.Port != 2 {
		t.Fatalf("got %+v", got)
	}
}
