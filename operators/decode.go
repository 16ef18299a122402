package operators

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/zkmirror/zkmirror"
)

// Decoded is one snapshot of a node decoded from JSON.
//
// Exists is the snapshot's Exists: false for a missing node, which is not an error (Value is
// then T's zero value and Err is nil). Err is the snapshot's own Err if it has one, or the
// decoding error if the data is not valid JSON for T (wrapping encoding/json's error, so
// errors.As finds a *json.SyntaxError, for instance); Value is then T's zero value. Snapshot
// is the snapshot decoded.
type Decoded[T any] struct {
	Value    T
	Exists   bool
	Err      error
	Snapshot zkmirror.Value
}

// DecodeJSON returns a channel with one Decoded for each snapshot of in, in order. Each
// snapshot is decoded into a fresh T. A missing node gives Exists=false and no error; a
// snapshot with Err set gives that error and is not decoded; data that does not decode gives
// a decoding error and the stream goes on with the next snapshot. An existing node with
// empty data is not valid JSON. Nothing is dropped. The output closes when in closes or ctx
// ends.
func DecodeJSON[T any](ctx context.Context, in <-chan zkmirror.Value) <-chan Decoded[T] {
	mustContext(ctx, "DecodeJSON")
	out := make(chan Decoded[T])
	go func() {
		defer close(out)
		for {
			snap, ok := recv(ctx, in)
			if !ok || !send(ctx, out, decodeJSON[T](snap)) {
				return
			}
		}
	}()
	return out
}

func decodeJSON[T any](snap zkmirror.Value) Decoded[T] {
	d := Decoded[T]{Exists: snap.Exists, Snapshot: snap}
	switch {
	case snap.Err != nil:
		d.Err = snap.Err
	case !snap.Exists:
	default:
		var v T
		if err := json.Unmarshal(snap.Data, &v); err != nil {
			d.Err = fmt.Errorf("operators: decoding JSON of %s: %w", snap.Path, err)
		} else {
			d.Value = v
		}
	}
	return d
}
