package zkmirror

import (
	"log/slog"
	"net"
	"time"

	"github.com/go-zookeeper/zk"
)

// DefaultMaxDataSize is the largest node data accepted by default: ZooKeeper's default
// jute.maxbuffer (1 MiB less one byte) less room for the request's header, path and ACL. A
// larger request makes the server drop the connection, which every mirror on it would
// suffer; it is refused with ErrDataTooLarge before anything is sent.
const DefaultMaxDataSize = 1<<20 - 1 - 16<<10

// Defaults for the options.
const (
	DefaultSessionTimeout  = 10 * time.Second
	DefaultResyncJitter    = 0.1
	DefaultReadConcurrency = 64
)

// Option configures a Mirror.
type Option func(*config)

type config struct {
	sessionTimeout  time.Duration
	logger          *slog.Logger
	auth            []authCred
	dialer          func(network, address string, timeout time.Duration) (net.Conn, error)
	chroot          string
	maxDataSize     int
	resyncJitter    float64
	readConcurrency int
}

type authCred struct {
	scheme string
	auth   []byte
}

// WithSessionTimeout sets the session timeout asked of the server (default 10 s). The server
// bounds it to its own [minSessionTimeout, maxSessionTimeout]; there is no client-side
// minimum beyond that.
func WithSessionTimeout(d time.Duration) Option {
	return func(c *config) { c.sessionTimeout = d }
}

// WithLogger sets the logger. The default discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithAuth adds a credential (for example "digest", []byte("user:password")) that is added
// on every new session before anything is read.
func WithAuth(scheme string, auth []byte) Option {
	a := authCred{scheme: scheme, auth: append([]byte(nil), auth...)}
	return func(c *config) { c.auth = append(c.auth, a) }
}

// WithDialer sets the function that opens connections (go-zookeeper's Dialer shape). The
// Mirror wraps it: Close ends every socket it opened, and no single read or write on them
// waits longer than the session timeout.
func WithDialer(d func(network, address string, timeout time.Duration) (net.Conn, error)) Option {
	return func(c *config) { c.dialer = d }
}

// WithChroot roots every path at the given server path, as a ZooKeeper connect string's
// chroot suffix does: Node("/a") is the server's chroot+"/a". The chroot node itself is not
// created.
func WithChroot(root string) Option {
	return func(c *config) { c.chroot = root }
}

// WithMaxDataSize sets the largest data Create and Set accept (default DefaultMaxDataSize).
// Raise it only together with the server's jute.maxbuffer.
func WithMaxDataSize(n int) Option {
	return func(c *config) { c.maxDataSize = n }
}

// WithResyncJitter sets the largest random delay before a resync, as a fraction of the
// session timeout (default 0.1; 0 disables). Clients whose sessions expired together (a
// partition, a restarted ensemble) then do not all re-read at the same instant.
func WithResyncJitter(fraction float64) Option {
	return func(c *config) { c.resyncJitter = fraction }
}

// WithReadConcurrency bounds the reads in flight at once (default 64): initial reads and
// resyncs are pipelined up to this depth. While only paths whose watches fired are to be
// read again, up to 16 times as many may be in flight, never more than one per path and
// kind, so that the mirror keeps up with a busy server as one watch loop per path would.
func WithReadConcurrency(n int) Option {
	return func(c *config) { c.readConcurrency = n }
}

// CreateOption configures Create.
type CreateOption func(*createConfig)

type createConfig struct {
	ephemeral, sequential, container, keep bool
	ttl                                    time.Duration
	ttlSet                                 bool
	acl                                    []zk.ACL
}

// Ephemeral makes the node live only as long as the session that created it.
func Ephemeral() CreateOption { return func(c *createConfig) { c.ephemeral = true } }

// Sequential appends a monotonically increasing counter to the name. With Ephemeral the
// create is protected: if the reply is lost, the mirror finds the node it made instead of
// leaving an orphan.
func Sequential() CreateOption { return func(c *createConfig) { c.sequential = true } }

// Container makes a container node, which the server deletes once its last child is gone.
func Container() CreateOption { return func(c *createConfig) { c.container = true } }

// TTL makes a persistent node the server deletes once it has had no children and no change
// for d. The server must run with zookeeper.extendedTypesEnabled=true.
func TTL(d time.Duration) CreateOption {
	return func(c *createConfig) { c.ttl, c.ttlSet = d, true }
}

// WithACL sets the node's ACL (default: open to everyone).
func WithACL(acl ...zk.ACL) CreateOption {
	acl = append([]zk.ACL(nil), acl...)
	return func(c *createConfig) { c.acl = acl }
}

// Keep makes the node ephemeral and kept: the mirror re-creates it (with the latest data set
// through the mirror and the same ACL) in every new session, and whenever another client
// deletes it, until it is deleted through this Mirror or the Mirror closes. If the path is
// held by another session's ephemeral node, the mirror waits for it to go and then
// re-creates. Keep with Sequential is ErrInvalidArgument.
func Keep() CreateOption {
	return func(c *createConfig) { c.keep, c.ephemeral = true, true }
}

func (c *createConfig) validate() error {
	switch {
	case c.keep && c.sequential:
		return ErrInvalidArgument
	case c.container && (c.ephemeral || c.sequential || c.ttlSet):
		return ErrInvalidArgument
	case c.ttlSet && c.ephemeral:
		return ErrInvalidArgument
	case c.ttlSet && c.ttl <= 0:
		return ErrInvalidArgument
	}
	return nil
}

func (c *createConfig) flags() int32 {
	switch {
	case c.container:
		return zk.FlagContainer
	case c.ttlSet && c.sequential:
		return zk.FlagPersistentSequentialWithTTL
	case c.ttlSet:
		return zk.FlagTTL
	case c.ephemeral && c.sequential:
		return zk.FlagEphemeralSequential
	case c.ephemeral:
		return zk.FlagEphemeral
	case c.sequential:
		return zk.FlagSequence
	}
	return zk.FlagPersistent
}
