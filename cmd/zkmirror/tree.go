package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zkmirror/zkmirror"
)

// runTree mirrors the subtree at the path, prints it, then prints every change until ctx ends.
func (c *cli) runTree(ctx context.Context) error {
	t := c.tree
	err := c.firstContact(ctx, t.Synced)
	if errors.Is(err, errInterrupted) {
		return nil
	}
	if err != nil {
		return err
	}
	// Events from now on: a change made while the tree is printed below shows in the listing,
	// or as an event, or both, but is never lost.
	events := t.Events(ctx)

	n := c.list(t, c.path)
	if n == 0 {
		c.line(record{Event: "node", Path: c.path}, c.path+": missing")
	}
	if c.json {
		writeJSON(c.stdout, record{Event: "synced", Path: c.path, Exists: n > 0, Nodes: &n})
	} else {
		fmt.Fprintf(c.stderr, "zkmirror: %s; watching for changes\n", plural(n, "node"))
	}

	for ev := range events {
		c.event(ev)
		if c.debounce > 0 {
			// Print what is ready, then pause: meanwhile the Tree merges each node's changes.
			c.drainReady(events)
			select {
			case <-time.After(c.debounce):
			case <-ctx.Done():
			}
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("tree %s: %w", c.path, zkmirror.ErrClosed)
}

// list prints the node at path and everything below it that the tree holds, depth first,
// and returns the number of nodes printed.
func (c *cli) list(t *zkmirror.Tree, path string) int {
	v, ok := t.Get(path)
	if !ok {
		return 0 // deleted meanwhile: an event follows
	}
	r := valueRecord(v)
	r.Event = "node"
	c.line(r, valueLine(v))
	n := 1
	names, _ := t.Children(path)
	for _, name := range names {
		child := path + "/" + name
		if path == "/" {
			child = "/" + name
		}
		n += c.list(t, child)
	}
	return n
}

func (c *cli) drainReady(events <-chan zkmirror.TreeEvent) {
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return
			}
			c.event(ev)
		default:
			return
		}
	}
}

// event prints one tree event: "created /a/b: data (version 0)", "deleted /a/b", ...
func (c *cli) event(ev zkmirror.TreeEvent) {
	kind := strings.ToLower(ev.Type.String())
	r := valueRecord(ev.Value)
	r.Event, r.Path, r.Resync = kind, ev.Path, ev.Resync
	var human string
	switch ev.Type {
	case zkmirror.EventCreated, zkmirror.EventChanged:
		human = kind + " " + valueLine(ev.Value)
	default:
		human = kind + " " + ev.Path
	}
	if ev.Resync && ev.Type != zkmirror.EventResynced {
		human += " [resync]"
	}
	c.line(r, human)
}

// line prints r with -json, human otherwise.
func (c *cli) line(r record, human string) {
	if c.json {
		writeJSON(c.stdout, r)
		return
	}
	fmt.Fprintln(c.stdout, human)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
