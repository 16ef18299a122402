// Package configwatch is the heart of the configwatch example, kept apart from its main
// package so that the demo can run the same code: it mirrors one JSON configuration node,
// debounces its changes, decodes each state into a Config and reports it.
package configwatch

import (
	"context"
	"fmt"
	"time"

	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/operators"
)

// Config is the configuration the node holds, as JSON, for example
//
//	{"greeting": "hello", "workers": 4, "debug": false}
//
// Fields the JSON lacks keep their zero value; fields it has and Config lacks are ignored.
type Config struct {
	Greeting string `json:"greeting"`
	Workers  int    `json:"workers"`
	Debug    bool   `json:"debug"`
}

// Update is one state of the configuration node.
type Update struct {
	Path    string
	Config  Config // the decoded configuration, when Exists and Err is nil
	Exists  bool   // false: the node does not exist
	Version int32  // the node's data version (0 when created, +1 per write)
	Resync  bool   // this state was re-read after the ZooKeeper session expired
	// Restored: this state comes from the snapshot file (zkmirror.WithSnapshotFile) and no
	// server has confirmed it yet.
	Restored bool
	Err      error // the data is not valid JSON for Config, or the node could not be read
}

// String is the line the example prints for the update:
//
//	config: {Greeting:hello Workers:4 Debug:false} version 3
//	config: missing
//	config: invalid (version 4): operators: decoding JSON of /demo/config: ...
//
// with " (resync)" appended to a state re-read after a session expiry, and " (from the
// snapshot file)" to a state loaded from disk that no server has confirmed yet.
func (u Update) String() string {
	var s string
	switch {
	case u.Err != nil && u.Exists:
		s = fmt.Sprintf("config: invalid (version %d): %v", u.Version, u.Err)
	case u.Err != nil:
		s = fmt.Sprintf("config: unreadable: %v", u.Err)
	case !u.Exists:
		s = "config: missing"
	default:
		s = fmt.Sprintf("config: %+v version %d", u.Config, u.Version)
	}
	if u.Resync {
		s += " (resync)"
	}
	if u.Restored {
		s += " (from the snapshot file)"
	}
	return s
}

// Watch mirrors the node at path and calls report with its current state, then with every
// state it settles in: changes less than quiet apart are debounced into one report of the
// last (quiet <= 0 reports every state the mirror delivers). report runs on the caller's
// goroutine, one call at a time.
//
// Watch returns nil when ctx ends, and an error if the path is invalid or the Mirror closes.
func Watch(ctx context.Context, m *zkmirror.Mirror, path string, quiet time.Duration, report func(Update)) error {
	node, err := m.Node(path)
	if err != nil {
		return err
	}
	// Closing the handle releases the path: the mirror stops watching it once nothing else
	// holds it.
	defer node.Close()

	// The pipeline: the node's snapshots (the current one first, then each change) → only
	// the last of each burst → decoded into a Config. Each stage ends when ctx ends or its
	// input closes, and the last one then closes the channel ranged over below.
	snapshots := node.Watch(ctx)
	if quiet > 0 {
		snapshots = operators.Debounce(ctx, snapshots, quiet)
	}
	for d := range operators.DecodeJSON[Config](ctx, snapshots) {
		report(Update{
			Path:     d.Snapshot.Path,
			Config:   d.Value,
			Exists:   d.Exists,
			Version:  d.Snapshot.Stat.Version,
			Resync:   d.Snapshot.Resync,
			Restored: d.Snapshot.Restored,
			Err:      d.Err,
		})
	}
	if ctx.Err() != nil {
		return nil // stopped by the caller
	}
	return fmt.Errorf("watching %s: %w", path, zkmirror.ErrClosed)
}
