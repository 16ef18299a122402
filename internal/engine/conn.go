package engine

import (
	"time"

	"github.com/go-zookeeper/zk"
)

// Conn is what the engine asks of a ZooKeeper connection: go-zookeeper's *zk.Conn has these
// methods. Reads that end in W arm a watch whose event the session hands to OnNodeEvent; the
// engine never ranges over the channels they return.
type Conn interface {
	Get(path string) ([]byte, *zk.Stat, error)
	GetW(path string) ([]byte, *zk.Stat, <-chan zk.Event, error)
	Children(path string) ([]string, *zk.Stat, error)
	ChildrenW(path string) ([]string, *zk.Stat, <-chan zk.Event, error)
	Exists(path string) (bool, *zk.Stat, error)
	ExistsW(path string) (bool, *zk.Stat, <-chan zk.Event, error)
	Sync(path string) (string, error)
	SessionID() int64

	Set(path string, data []byte, version int32) (*zk.Stat, error)
	Create(path string, data []byte, flags int32, acl []zk.ACL) (string, error)
	CreateContainer(path string, data []byte, flags int32, acl []zk.ACL) (string, error)
	CreateTTL(path string, data []byte, flags int32, acl []zk.ACL, ttl time.Duration) (string, error)
	Delete(path string, version int32) error
}

var _ Conn = (*zk.Conn)(nil)
