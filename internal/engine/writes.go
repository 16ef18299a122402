package engine

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

// WaitFunc blocks until a session is established, ctx ends or the Mirror closes; its error
// is returned as it is.
type WaitFunc func(ctx context.Context, op, path string) error

// CreateSpec is what kind of node Create makes.
type CreateSpec struct {
	Flags     int32 // go-zookeeper's create flags
	Container bool
	TTL       time.Duration // with HasTTL
	HasTTL    bool
	// Protected: an ephemeral sequential node made with a GUID in its name, found again
	// when the reply is lost.
	Protected bool
}

// Set writes a node's data and applies the returned Stat.
func (g *Engine) Set(spath string, data []byte, version int32) (Stat, error) {
	if g.stopped() {
		return Stat{}, ErrStopped
	}
	zst, err := g.conn.Set(spath, data, version)
	if err != nil {
		return Stat{}, err
	}
	st := StatFrom(zst)
	g.applyWrite(spath, KindData, true, data, nil, st)
	return st, nil
}

// Create creates a node as spec says and reads it back (see ReadBack), so that when it
// returns the mirror reflects the creation or a later state. It returns the server path
// created; with a path, an error is the read-back's.
func (g *Engine) Create(ctx context.Context, spath string, data []byte, acl []zk.ACL, spec CreateSpec, wait WaitFunc) (string, error) {
	if g.stopped() {
		return "", ErrStopped
	}
	var created string
	var err error
	switch {
	case spec.Container:
		created, err = g.conn.CreateContainer(spath, data, spec.Flags, acl)
	case spec.HasTTL:
		created, err = g.conn.CreateTTL(spath, data, spec.Flags, acl, spec.TTL)
	case spec.Protected:
		created, err = g.protectedCreate(spath, data, acl)
	default:
		created, err = g.conn.Create(spath, data, spec.Flags, acl)
	}
	if err != nil {
		return "", err
	}
	return created, g.ReadBack(ctx, created, true, wait)
}

// Delete deletes a node and reads it back (see ReadBack), so that when it returns the
// mirror reflects the deletion or a later state. deleted reports whether the server
// deleted it; if so, an error is the read-back's.
func (g *Engine) Delete(ctx context.Context, spath string, version int32, wait WaitFunc) (deleted bool, err error) {
	if g.stopped() {
		return false, ErrStopped
	}
	if err := g.conn.Delete(spath, version); err != nil {
		return false, err
	}
	return true, g.ReadBack(ctx, spath, true, wait)
}

// ReadBack reads a path written through the mirror (and its parent's children) without a
// watch and applies what it finds, so the caller reads its own write. A read cut by a lost
// connection is retried on the next one, until ctx ends or the Mirror closes; a read that
// fails otherwise (ErrNoAuth …) leaves the path to its own reads. It returns ErrStopped once
// the engine stops, ctx.Err() when ctx ends, and wait's error as it is.
func (g *Engine) ReadBack(ctx context.Context, spath string, parent bool, wait WaitFunc) error {
	if g.held(spath, KindData) {
		err := g.retryRead(ctx, wait, func(conn Conn) error {
			data, st, err := conn.Get(spath)
			switch {
			case err == nil:
				if data == nil {
					data = []byte{}
				}
				g.applyWrite(spath, KindData, true, data, nil, StatFrom(st))
			case errors.Is(err, zk.ErrNoNode):
				g.applyWrite(spath, KindData, false, nil, nil, Stat{})
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
		return g.readBackChildren(ctx, ParentPath(spath), wait)
	}
	return nil
}

func (g *Engine) readBackChildren(ctx context.Context, spath string, wait WaitFunc) error {
	if !g.held(spath, KindChildren) {
		return nil
	}
	return g.retryRead(ctx, wait, func(conn Conn) error {
		names, st, err := conn.Children(spath)
		switch {
		case err == nil:
			g.applyWrite(spath, KindChildren, true, nil, sortedNames(names), StatFrom(st))
		case errors.Is(err, zk.ErrNoNode):
			g.applyWrite(spath, KindChildren, false, nil, nil, Stat{})
		default:
			return err
		}
		return nil
	})
}

// retryRead runs read until it does not fail for a lost connection.
func (g *Engine) retryRead(ctx context.Context, wait WaitFunc, read func(Conn) error) error {
	pause := 10 * time.Millisecond
	for {
		if g.stopped() {
			return ErrStopped
		}
		err := read(g.conn)
		if err == nil || !isConnErr(err) {
			return nil
		}
		// The session may not have noticed the loss yet: pause before waiting for it.
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-g.grp.Stopping():
			t.Stop()
			return ErrStopped
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		pause = min(2*pause, 500*time.Millisecond)
		if err := wait(ctx, "read back", ""); err != nil {
			return err
		}
	}
}

// ProtectedPrefix marks a protected ephemeral sequential node: "_c_" GUID "-" name.
const ProtectedPrefix = "_c_"

// protectedCreate creates an ephemeral sequential node whose name carries a random GUID, so
// that when the reply is lost the node made (if any) is found among the parent's children
// instead of being left behind as an orphan or created twice.
func (g *Engine) protectedCreate(spath string, data []byte, acl []zk.ACL) (string, error) {
	conn := g.conn
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	guid := hex.EncodeToString(id[:])
	dir := ParentPath(spath)
	base := spath[strings.LastIndexByte(spath, '/')+1:]
	marker := ProtectedPrefix + guid + "-"
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

// stopped reports whether Stop was called: no request starts after it.
func (g *Engine) stopped() bool {
	select {
	case <-g.grp.Stopping():
		return true
	default:
		return false
	}
}
