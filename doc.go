// Package zkmirror keeps a live local mirror of Apache ZooKeeper nodes.
//
// Each mirrored node is a stream of snapshots — its data and Stat (Value) or its children
// (Children) — driven by ZooKeeper watches. Read the latest snapshot synchronously with
// Node.Value and Node.Children, range over changes with Node.Watch and Node.WatchChildren,
// or register keyed callbacks. Mirror a whole subtree with Mirror.Tree.
//
// The contract every snapshot obeys:
//
//   - Channels. Every channel handed out is owned and closed by the mirror, exactly once:
//     when its ctx ends, its handle closes or the Mirror closes. Snapshot channels conflate:
//     a slow reader skips intermediate states and gets the latest, never a backlog, and it
//     never blocks the mirror or another reader.
//   - First value. Watch sends the current state as soon as it is known (Exists=false for a
//     missing node), then changes. Value and Children answer from the mirror, without a
//     server round trip, once the path has had first contact.
//   - Errors. Value on a missing node is ErrNoNode; no contact with ZooKeeper for the path
//     before ctx ends is ErrTimeout; after Close, ErrClosed; a bad path, ErrInvalidPath.
//     Nothing that comes from data or the server panics, nor does bad input: it is an
//     error matching one of the Err sentinels with errors.Is. Bad input is refused before
//     anything is sent, whatever its size: a path the server would refuse, or too long for
//     any request (MaxPathLen), is ErrInvalidPath; a write whose path, data and ACL together
//     cannot fit the server's packet limit is ErrDataTooLarge; an option out of its range
//     is ErrInvalidArgument from Connect. A user function that panics (a Filter, a watcher)
//     is recovered and logged. Only a nil ctx, func or option panics, as a programming
//     error.
//   - Monotonic. For one path the mirror never emits an older state than one it emitted:
//     (Czxid, Mzxid) for data and (Czxid, Pzxid) for children only grow, and are equal only
//     in a Resync snapshot or one that reports a change of Err (a read that started or
//     stopped failing). A delete and re-create between two reads is seen (Czxid changed)
//     even at the same Version, and a deleted node is remembered so a lagging server cannot
//     bring it back. All this within one server history: a resync read, made after Sync in
//     a new session, is authoritative and replaces the mirrored state even when its zxids
//     are lower, because the cluster's history restarted (rebuilt from empty data, or
//     restored from an older backup); the mirror logs that once (Warn) and goes on from
//     the new history, tombstones of the old one forgotten.
//   - Read your writes. When Set, Create or Delete returns, Value reflects that write or a
//     later one.
//   - One ZooKeeper watch per (path, kind), however many handles, subscribers, watchers and
//     Trees share the path. A path nothing holds any more stops being re-armed and is freed.
//   - Disconnect (same session): watches survive, snapshots keep the last known state, State
//     goes Suspended, then Lost after the session timeout. Paths that could not be re-armed
//     while disconnected are re-armed on the next connection.
//   - Expiry (new session): the mirror calls Sync, re-reads every mirrored path with bounded
//     concurrency after a random delay of up to a fraction of the session timeout, and emits
//     one snapshot per path and kind with Resync=true, changed or not. Keep nodes are
//     re-created.
//   - Order and callbacks. Per path, snapshots arrive in zxid order. Watcher callbacks run on
//     one dispatcher goroutine per Mirror, in order per path; a panicking callback is
//     recovered and logged.
//   - Tree events. Per path in zxid order; for a slow reader the pending events of one path
//     conflate (see Tree), so memory stays bounded and the final state is never lost;
//     across paths, the order of first occurrence. After an expiry only real differences
//     become events, flagged Resync, then one EventResynced.
//   - Operators (package operators) never drop items except Debounce, Throttle and
//     Distinct, which exist to; they block on their output with ctx. Only the sources
//     (Watch, Subscribe, Tree.Events) conflate.
//   - Close returns only after every goroutine of the Mirror has ended and every socket it
//     opened is closed; go-zookeeper's own goroutines have then been told to stop and have
//     nothing left to do but return. Called from a watcher callback, it closes without
//     waiting for the dispatcher it runs on, which ends as soon as the callback returns.
//   - Snapshot file (WithSnapshotFile, opt-in). A path found in the file answers at once,
//     before any server contact, with Restored=true; the first read from a server replaces
//     it with Restored=false and Resync=true, changed or not, whatever the zxids say.
//     Tree.Synced still means loaded from a server. A bad file is ignored whole.
package zkmirror
