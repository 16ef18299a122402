// Package operators composes streams of snapshots, and any other Go channels, with generic
// channel operators: Map, Filter, Scan, Distinct, DistinctFunc, Debounce, Throttle, Merge,
// CombineLatest (and its typed forms CombineLatest2 and CombineLatest3), DecodeJSON, and Hold,
// which turns a channel back into a zkmirror.Stream.
//
// Typical use decodes the snapshots of a node, combines them with another node's and
// debounces the result:
//
//	ctx, cancel := context.WithCancel(ctx)
//	defer cancel()
//	a := operators.DecodeJSON[Limits](ctx, limitsNode.Watch(ctx))
//	b := operators.DecodeJSON[Flags](ctx, flagsNode.Watch(ctx))
//	cfg := operators.CombineLatest2(ctx, a, b, merge)
//	for c := range operators.Debounce(ctx, cfg, 100*time.Millisecond) { ... }
//
// Every operator follows the same rules:
//
//   - The first argument is a context. When it ends, the operator stops: its goroutine ends
//     and its output channel closes, even if the inputs stay open and nobody reads the output
//     any more. Cancelling the context is therefore the way to release a pipeline whose inputs
//     do not end by themselves.
//   - Each operator owns its output channel and closes it exactly once: when its inputs are
//     closed (as each operator's documentation details) or when the context ends. After the
//     context ends, at most an item already being handed over is delivered.
//   - Each operator runs at most one goroutine, whatever the number of its inputs.
//   - Output channels are unbuffered. An operator waits for its reader before taking the next
//     input item: a slow reader slows the pipeline down (backpressure) instead of losing
//     items. Only the sources (Node.Watch, Stream.Subscribe, Tree.Events) conflate.
//   - No operator drops an item, except Distinct and DistinctFunc (which drop repeats),
//     Debounce and Throttle (which drop intermediate items of a burst), which exist to.
//     Debounce and Throttle with a duration of zero or less delay and drop nothing.
//   - Per input, items keep their order.
//   - A nil context or a nil function is a programming error: the operator panics when it is
//     called, with a message naming it. No other argument makes an operator panic. A nil
//     input channel is an input that never sends and never closes.
//   - A function passed to an operator runs on the operator's goroutine, one call at a time.
package operators
