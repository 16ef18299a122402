package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/zkmirror/zkmirror"
)

// get prints the node's value and stat, or with -children its child names, once.
func (c *cli) get(ctx context.Context) error {
	node := c.node
	var v zkmirror.Value
	var kids zkmirror.Children
	err := c.firstContact(ctx, func(ctx context.Context) error {
		var err error
		if c.children {
			kids, err = node.Children(ctx)
		} else {
			v, err = node.Value(ctx)
		}
		return err
	})
	switch {
	case errors.Is(err, zkmirror.ErrNoNode):
		switch {
		case c.json && c.children:
			writeJSON(c.stdout, childrenRecord(zkmirror.Children{Path: c.path}))
		case c.json:
			writeJSON(c.stdout, valueRecord(zkmirror.Value{Path: c.path}))
		}
		return fmt.Errorf("%s: no such node", c.path)
	case err != nil:
		return err
	}

	switch {
	case c.json && c.children:
		writeJSON(c.stdout, childrenRecord(kids))
	case c.json:
		writeJSON(c.stdout, valueRecord(v))
	case c.children:
		for _, name := range kids.Names {
			fmt.Fprintln(c.stdout, name)
		}
	default:
		// The data, as it is when it is text, then the stat as ZooKeeper's shell shows it.
		data := getData(v.Data)
		fmt.Fprint(c.stdout, data)
		if !strings.HasSuffix(data, "\n") {
			fmt.Fprintln(c.stdout)
		}
		fmt.Fprint(c.stdout, statLines(v.Stat))
	}
	return nil
}
