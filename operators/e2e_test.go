package operators_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/internal/chantest"
	"github.com/zkmirror/zkmirror/leaktest"
	"github.com/zkmirror/zkmirror/operators"
)

// limits and flags are the JSON documents of two nodes; settings combines them.
type limits struct {
	MaxConns int `json:"maxConns"`
}

type flags struct {
	Debug bool `json:"debug"`
}

type settings struct {
	MaxConns int
	Debug    bool
	Present  int // how many of the two nodes exist and decode
	Err      string
}

func combine(l operators.Decoded[limits], f operators.Decoded[flags]) settings {
	var s settings
	for _, err := range []error{l.Err, f.Err} {
		if err != nil {
			s.Err = err.Error()
		}
	}
	if l.Exists && l.Err == nil {
		s.MaxConns = l.Value.MaxConns
		s.Present++
	}
	if f.Exists && f.Err == nil {
		s.Debug = f.Value.Debug
		s.Present++
	}
	return s
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEndToEndCombineTwoNodes mirrors two nodes of a real ZooKeeper, decodes their JSON and
// combines them into one settings value that follows every change of either node.
func TestEndToEndCombineTwoNodes(t *testing.T) {
	leaktest.Check(t)
	m, err := zkmirror.Connect(zkc.Addrs())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // after the nodes' cleanups, registered later
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	root := fmt.Sprintf("/operators-e2e-%d", time.Now().UnixNano())
	node := func(p string) *zkmirror.Node {
		n, err := m.Node(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	rootNode, limitsNode, flagsNode := node(root), node(root+"/limits"), node(root+"/flags")
	if _, err := rootNode.Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := limitsNode.Create(ctx, mustJSON(t, limits{MaxConns: 10})); err != nil {
		t.Fatal(err)
	}
	if _, err := flagsNode.Create(ctx, mustJSON(t, flags{Debug: false})); err != nil {
		t.Fatal(err)
	}

	// The pipeline: two watched nodes, decoded, combined, held as a Stream.
	pctx, pcancel := context.WithCancel(ctx)
	defer pcancel()
	cfg := operators.CombineLatest2(pctx,
		operators.DecodeJSON[limits](pctx, limitsNode.Watch(pctx)),
		operators.DecodeJSON[flags](pctx, flagsNode.Watch(pctx)),
		combine)
	held := operators.Hold(pctx, cfg)
	sub := held.Subscribe(pctx)

	// awaitFunc reads combined settings until one satisfies ok. The sources conflate, so
	// intermediate states may be skipped, but the latest always arrives.
	awaitFunc := func(step string, ok func(settings) bool) {
		t.Helper()
		timeout := time.After(30 * time.Second)
		var last settings
		for {
			select {
			case s, open := <-sub:
				if !open {
					t.Fatalf("%s: settings stream closed; last %+v", step, last)
				}
				if ok(s) {
					return
				}
				last = s
			case <-timeout:
				t.Fatalf("%s: last settings %+v", step, last)
			}
		}
	}
	await := func(step string, want settings) {
		t.Helper()
		awaitFunc(step, func(s settings) bool { return s == want })
	}

	await("initial", settings{MaxConns: 10, Debug: false, Present: 2})
	if _, err := limitsNode.Set(ctx, mustJSON(t, limits{MaxConns: 20}), -1); err != nil {
		t.Fatal(err)
	}
	await("limits changed", settings{MaxConns: 20, Debug: false, Present: 2})
	if _, err := flagsNode.Set(ctx, mustJSON(t, flags{Debug: true}), -1); err != nil {
		t.Fatal(err)
	}
	await("flags changed", settings{MaxConns: 20, Debug: true, Present: 2})

	// Both change, one after the other: the latest of each is combined.
	if _, err := limitsNode.Set(ctx, mustJSON(t, limits{MaxConns: 30}), -1); err != nil {
		t.Fatal(err)
	}
	if _, err := flagsNode.Set(ctx, mustJSON(t, flags{Debug: false}), -1); err != nil {
		t.Fatal(err)
	}
	await("both changed", settings{MaxConns: 30, Debug: false, Present: 2})

	// Invalid JSON is an error in the stream, which goes on.
	if _, err := flagsNode.Set(ctx, []byte("{not json"), -1); err != nil {
		t.Fatal(err)
	}
	awaitFunc("flags invalid", func(s settings) bool {
		return s.MaxConns == 30 && s.Present == 1 &&
			strings.Contains(s.Err, "decoding JSON of "+root+"/flags")
	})
	if _, err := flagsNode.Set(ctx, mustJSON(t, flags{Debug: true}), -1); err != nil {
		t.Fatal(err)
	}
	await("flags valid again", settings{MaxConns: 30, Debug: true, Present: 2})

	// A deleted node is a missing node, not an error.
	if err := flagsNode.Delete(ctx, -1); err != nil {
		t.Fatal(err)
	}
	await("flags deleted", settings{MaxConns: 30, Present: 1})
	if _, err := flagsNode.Create(ctx, mustJSON(t, flags{Debug: true})); err != nil {
		t.Fatal(err)
	}
	await("flags re-created", settings{MaxConns: 30, Debug: true, Present: 2})

	if s, ok := held.Latest(); !ok || s != (settings{MaxConns: 30, Debug: true, Present: 2}) {
		t.Fatalf("Latest = %+v, %v", s, ok)
	}

	// Cancelling the pipeline's context ends it: the Stream closes.
	pcancel()
	chantest.Collect(t, sub)
	if _, err := held.Wait(ctx); err != nil {
		t.Fatalf("Wait after the pipeline ended: %v (the latest value is kept)", err)
	}

	// Clean up the server.
	for _, n := range []*zkmirror.Node{limitsNode, flagsNode, rootNode} {
		if err := n.Delete(ctx, -1); err != nil {
			t.Error(err)
		}
	}
}
