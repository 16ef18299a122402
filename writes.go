package zkmirror

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

// The engine's writes: the requests that change the server, and the read-backs that make a
// write through the mirror visible in it before the write returns.

// waitFunc blocks until a session is established, ctx ends or the Mirror closes.
type waitFunc func(ctx context.Context, op, path string) error

// set writes a node's data and applies the returned Stat.
func (g *engine) set(spath string, data []byte, version int32) (Stat, error) {
	zst, err := g.conn.Set(spath, data, version)
	if err != nil {
		return Stat{}, err
	}
	st := statFrom(zst)
	g.applyWrite(spath, kindData, true, data, nil, st)
	return st, nil
}

// create creates a node as cc says and returns the server path created.
func (g *engine) create(spath string, data []byte, acl []zk.ACL, cc createConfig) (string, error) {
	switch {
	case cc.container:
		return g.conn.CreateContainer(spath, data, cc.flags(), acl)
	case cc.ttlSet:
		return g.conn.CreateTTL(spath, data, cc.flags(), acl, cc.ttl)
	case cc.ephemeral && cc.sequential:
		return g.protectedCreate(spath, data, acl)
	default:
		return g.conn.Create(spath, data, cc.flags(), acl)
	}
}

// delete deletes a node.
func (g *engine) delete(spath string, version int32) error {
	return g.conn.Delete(spath, version)
}

// readBack reads a path written through the mirror (and its parent's children) without a
// watch and applies what it finds, so the caller reads its own write. A read cut by a lost
// connection is retried on the next one, until ctx ends or the Mirror closes; a read that
// fails otherwise (ErrNoAuth …) leaves the path to its own reads.
func (g *engine) readBack(ctx context.Context, spath string, parent bool, wait waitFunc) error {
	if g.held(spath, kindData) {
		err := g.retryRead(ctx, wait, func(conn *zk.Conn) error {
			data, st, err := conn.Get(spath)
			switch {
			case err == nil:
				if data == nil {
					data = []byte{}
				}
				g.applyWrite(spath, kindData, true, data, nil, statFrom(st))
			case errors.Is(err, zk.ErrNoNode):
				g.applyWrite(spath, kindData, false, nil, nil, Stat{})
			default:
				return err
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := g.readBackChildren(ctx, spath, wait); err != nil {
		return err
	}
	if parent && spath != "/" {
		return g.readBackChildren(ctx, parentPath(spath), wait)
	}
	return nil
}

func (g *engine) readBackChildren(ctx context.Context, spath string, wait waitFunc) error {
	if !g.held(spath, kindChildren) {
		return nil
	}
	return g.retryRead(ctx, wait, func(conn *zk.Conn) error {
		names, st, err := conn.Children(spath)
		switch {
		case err == nil:
			g.applyWrite(spath, kindChildren, true, nil, sortedNames(names), statFrom(st))
		case errors.Is(err, zk.ErrNoNode):
			g.applyWrite(spath, kindChildren, false, nil, nil, Stat{})
		default:
			return err
		}
		return nil
	})
}

// retryRead runs read until it does not fail for a lost connection.
func (g *engine) retryRead(ctx context.Context, wait waitFunc, read func(*zk.Conn) error) error {
	pause := 10 * time.Millisecond
	for {
		err := read(g.conn)
		if err == nil || !isConnErr(err) {
			return nil
		}
		// The session may not have noticed the loss yet: pause before waiting for it.
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-g.done:
			t.Stop()
			return newErr("read back", "", ErrClosed, nil)
		case <-ctx.Done():
			t.Stop()
			return timeoutErr("read back", "", ctx)
		}
		pause = min(2*pause, 500*time.Millisecond)
		if err := wait(ctx, "read back", ""); err != nil {
			return err
		}
	}
}

// protectedPrefix marks a protected ephemeral sequential node: "_c_" GUID "-" name.
const protectedPrefix = "_c_"

// protectedCreate creates an ephemeral sequential node whose name carries a random GUID, so
// that when the reply is lost the node made (if any) is found among the parent's children
// instead of being left behind as an orphan or created twice.
func (g *engine) protectedCreate(spath string, data []byte, acl []zk.ACL) (string, error) {
	conn := g.conn
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	guid := hex.EncodeToString(id[:])
	dir := parentPath(spath)
	base := spath[strings.LastIndexByte(spath, '/')+1:]
	marker := protectedPrefix + guid + "-"
	full := dir + "/" + marker + base
	if dir == "/" {
		full = "/" + marker + base
	}
	var lastErr error
	for range 3 {
		created, err := conn.Create(full, data, zk.FlagEphemeralSequential, acl)
		switch {
		case err == nil:
			return created, nil
		case errors.Is(err, zk.ErrConnectionClosed):
			// The reply was lost: the node may exist. Look for the GUID once reconnected.
			names, _, lerr := conn.Children(dir)
			if lerr != nil {
				if errors.Is(lerr, zk.ErrSessionExpired) || errors.Is(lerr, zk.ErrConnectionClosed) {
					lastErr = lerr
					continue
				}
				return "", lerr
			}
			for _, c := range names {
				if strings.HasPrefix(c, marker) {
					if dir == "/" {
						return "/" + c, nil
					}
					return dir + "/" + c, nil
				}
			}
			lastErr = err
		case errors.Is(err, zk.ErrSessionExpired):
			lastErr = err // an ephemeral of an expired session cannot exist: try again
		default:
			return "", err
		}
	}
	return "", lastErr
}
