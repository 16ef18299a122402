package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/operators"
)

// errInterrupted: ctx ended (Ctrl-C) before the command was done.
var errInterrupted = errors.New("interrupted")

// watch prints the node's value (or children) and then every change until ctx ends.
func (c *cli) watch(ctx context.Context) error {
	node := c.node
	// The first state comes once ZooKeeper has answered: wait for it within the timeout.
	// Any answer will do, a missing node included.
	err := c.firstContact(ctx, func(ctx context.Context) error {
		var err error
		if c.children {
			_, err = node.Children(ctx)
		} else {
			_, err = node.Value(ctx)
		}
		if err != nil && !errors.Is(err, zkmirror.ErrTimeout) {
			return nil // an answer, if not a happy one: the stream shows it
		}
		return err
	})
	if errors.Is(err, errInterrupted) {
		return nil
	}
	if err != nil {
		return err
	}

	if c.children {
		return follow(ctx, c, node.WatchChildren(ctx), c.childrenLine)
	}
	return follow(ctx, c, node.Watch(ctx), c.valueLine)
}

func (c *cli) valueLine(v zkmirror.Value) string {
	if c.json {
		return jsonLine(valueRecord(v))
	}
	return valueLine(v)
}

func (c *cli) childrenLine(ch zkmirror.Children) string {
	if c.json {
		return jsonLine(childrenRecord(ch))
	}
	return childrenLine(ch)
}

func jsonLine(r record) string {
	var b strings.Builder
	writeJSON(&b, r)
	return strings.TrimSuffix(b.String(), "\n")
}

// follow prints each snapshot of in, debounced with -debounce, until ctx ends (nil) or the
// Mirror closes (an error).
func follow[T any](ctx context.Context, c *cli, in <-chan T, line func(T) string) error {
	if c.debounce > 0 {
		in = operators.Debounce(ctx, in, c.debounce)
	}
	for v := range in {
		fmt.Fprintln(c.stdout, line(v))
	}
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("watch %s: %w", c.path, zkmirror.ErrClosed)
}
