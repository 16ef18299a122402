package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/zkmirror/zkmirror"
)

// get prints the node's value and stat, or with -children its child names, once.
func (c *cli) get(ctx context.Context) error {
	node, err := c.m.Node(c.path)
	if err != nil {
		return err
	}
	defer node.Close()

	var v zkmirror.Value
	var kids zkmirror.Children
	err = c.firstContact(ctx, func(ctx context.Context) error {
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
		// The data as it is, then the stat as ZooKeeper's shell shows it.
		c.stdout.Write(v.Data)
		if len(v.Data) == 0 || v.Data[len(v.Data)-1] != '\n' {
			fmt.Fprintln(c.stdout)
		}
		fmt.Fprint(c.stdout, statLines(v.Stat))
	}
	return nil
}
