// Package engine owns the watch state of every mirrored ZooKeeper path: one watch per
// (path, kind) whatever the number of holders, single-flight reads driven by node events,
// the admit rules that keep each path's states monotonic within one server history (and
// authoritative across a new one), the resync after session expiry, the writes made
// through the mirror with their read-backs, and the snapshot file.
//
// It knows the layers above only as Holders, to which it delivers each new record of the
// (path, kind) pairs they hold, and ResyncListeners. It talks to ZooKeeper through Conn,
// the go-zookeeper calls it makes, so its rules are tested on a fake connection.
//
// # Lock order
//
// From the outside in; a goroutine holding a lock takes only locks after it:
//
//  1. A holder's own lock, which it may hold while it calls Acquire or Release (a Tree's
//     mu, the lock of the Node handles' streams).
//  2. Engine.mu, which guards the engine's fields and every entry. It is never held while
//     calling the connection, nor while waiting for anything.
//  3. What Deliver and ResyncListener.ResyncStarted take, with Engine.mu held: a stream's
//     lock, a holder's queue, the keeper's lock. They never call the engine.
//  4. The event queue's lock (node events that found Engine.mu taken) and a snapshot's
//     wake-up: leaves.
//
// go-zookeeper's I/O goroutine, which runs OnNodeEvent, never waits for Engine.mu: it
// takes it only if free and otherwise queues the event for the pump.
package engine
