package engine

import (
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"

	"github.com/go-zookeeper/zk"
)

// Kind is what of a path is mirrored: its data or its children.
type Kind int

// The kinds.
const (
	KindData Kind = iota
	KindChildren
)

// Stat is a node's Stat, with go-zookeeper's field names and types (the same fields as the
// public zkmirror.Stat, so either converts to the other).
type Stat struct {
	Czxid          int64
	Mzxid          int64
	Pzxid          int64
	Ctime          int64
	Mtime          int64
	EphemeralOwner int64
	Version        int32
	Cversion       int32
	Aversion       int32
	DataLength     int32
	NumChildren    int32
}

// StatFrom converts go-zookeeper's Stat; nil is the zero Stat.
func StatFrom(s *zk.Stat) Stat {
	if s == nil {
		return Stat{}
	}
	return Stat{
		Czxid: s.Czxid, Mzxid: s.Mzxid, Pzxid: s.Pzxid, Ctime: s.Ctime, Mtime: s.Mtime,
		EphemeralOwner: s.EphemeralOwner, Version: s.Version, Cversion: s.Cversion,
		Aversion: s.Aversion, DataLength: s.DataLength, NumChildren: s.NumChildren,
	}
}

// ZxidAfter reports whether state (c1, m1) is newer than (c2, m2): a later incarnation
// (Czxid), or a later change of the same one.
func ZxidAfter(c1, m1, c2, m2 int64) bool {
	if c1 != c2 {
		return c1 > c2
	}
	return m1 > m2
}

// ErrStopped is returned by the engine's calls once it has been stopped.
var ErrStopped = errors.New("engine stopped")

// IsSocketErr reports whether err is a socket error go-zookeeper passed through as it was
// (a write on a connection that just broke).
func IsSocketErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
}

// isConnErr reports whether err means the request did not get a definite answer because the
// connection or session went away.
func isConnErr(err error) bool {
	return errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer) ||
		errors.Is(err, zk.ErrSessionExpired) || errors.Is(err, zk.ErrSessionMoved) ||
		errors.Is(err, zk.ErrClosing) || IsSocketErr(err)
}

// sortedNames sorts child names as go-zookeeper decoded them (a slice no one else holds)
// in place; never nil.
func sortedNames(names []string) []string {
	if names == nil {
		return []string{}
	}
	slices.Sort(names)
	return names
}

// ParentPath returns the parent of a valid path ("/" for a top-level node and for "/").
func ParentPath(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}
