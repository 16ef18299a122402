package zkmirror

import (
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror/internal/engine"
)

// DefaultMaxDataSize is the largest node data accepted by default: ZooKeeper's default
// jute.maxbuffer (1 MiB less one byte) less room for the request's header, path and ACL.
// Whatever the limit, a write whose whole request (path, data, ACL, flags) would not fit
// the server's packet limit is refused with ErrDataTooLarge before anything is sent: the
// server would drop the connection, which every path on the Mirror would suffer.
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
	snapshotFile    string
}

type authCred struct {
	scheme string
	auth   []byte
}

// WithSessionTimeout sets the session timeout asked of the server (default 10 s). The server
// bounds it to its own [minSessionTimeout, maxSessionTimeout]; there is no client-side
// minimum beyond that. The request itself is sent in whole milliseconds: d must be in
// [MinSessionTimeout, MaxSessionTimeout] (1 ms to what 32-bit milliseconds hold), else
// Connect returns ErrInvalidArgument.
func WithSessionTimeout(d time.Duration) Option {
	return func(c *config) { c.sessionTimeout = d }
}

// WithLogger sets the logger. The default, and nil, discard everything.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithAuth adds a credential (for example "digest", []byte("user:password")) that is added
// on every new session before anything is read. An empty scheme, or a scheme and credential
// too large for one request to the server (together more than 1 MiB less 21 bytes), makes
// Connect return ErrInvalidArgument.
func WithAuth(scheme string, auth []byte) Option {
	a := authCred{scheme: scheme, auth: append([]byte(nil), auth...)}
	return func(c *config) { c.auth = append(c.auth, a) }
}

// WithDialer sets the function that opens connections (go-zookeeper's Dialer shape). The
// Mirror wraps it: Close ends every socket it opened, and no single read or write on them
// waits longer than the session timeout. nil means the default, net.DialTimeout.
func WithDialer(d func(network, address string, timeout time.Duration) (net.Conn, error)) Option {
	return func(c *config) { c.dialer = d }
}

// WithChroot roots every path at the given server path, as a ZooKeeper connect string's
// chroot suffix does: Node("/a") is the server's chroot+"/a". The chroot node itself is not
// created. "" and "/" mean no chroot; anything else must be a valid ZooKeeper path (see
// Mirror.Node), else Connect returns ErrInvalidArgument (also matching ErrInvalidPath).
func WithChroot(root string) Option {
	return func(c *config) { c.chroot = root }
}

// WithMaxDataSize sets the largest data Create and Set accept (default DefaultMaxDataSize).
// n must be in [1, MaxDataSizeLimit], the most the server's
// default packet limit (jute.maxbuffer) lets a request carry, else Connect returns
// ErrInvalidArgument. Within that, a write whose whole request does not fit the packet
// limit is ErrDataTooLarge.
func WithMaxDataSize(n int) Option {
	return func(c *config) { c.maxDataSize = n }
}

// WithResyncJitter sets the largest random delay before a resync, as a fraction of the
// session timeout (default 0.1; 0 disables; it must be in [0, 1], else Connect returns
// ErrInvalidArgument). Clients whose sessions expired together (a partition, a restarted
// ensemble) then do not all re-read at the same instant.
func WithResyncJitter(fraction float64) Option {
	return func(c *config) { c.resyncJitter = fraction }
}

// WithReadConcurrency bounds the reads in flight at once (default 64): initial reads and
// resyncs are pipelined up to this depth. While only paths whose watches fired are to be
// read again, up to 16 times as many may be in flight, never more than one per path and
// kind, so that the mirror keeps up with a busy server as one watch loop per path would.
// n must be at least 1, else Connect returns ErrInvalidArgument.
func WithReadConcurrency(n int) Option {
	return func(c *config) { c.readConcurrency = n }
}

// WithSnapshotFile keeps a last-known-good copy of the mirror on disk, so that a process
// started while ZooKeeper is unreachable still has its data. Opt-in; "" (the default)
// disables it.
//
// The Mirror writes what it holds — every held path's latest data, Stat and children, and
// the chroot — to path: atomically (a temporary file in the same directory, synced, then
// renamed over path, and the directory synced), so a crash at any point leaves the previous
// file or the new one; at most once a second while states change, and once more at Close.
// Paths released shortly before Close (as deferred Close calls on handles do) are still in
// that last write. A write that fails (a read-only directory, a full disk) is logged and
// retried with growing delays; it never blocks the mirror. Close waits for its last write:
// on a disk that hangs, Close waits with it. The file belongs to one Mirror at a time: two
// writing it do not tear it (each write renames a whole file of its own over it), but the
// last write wins.
//
// At Connect the file is loaded. A Node or Tree path found in it answers at once — Value,
// Children, the first Watch snapshot, Tree.Get — with Restored=true, before any server
// contact. The first read from a server replaces it, with Restored=false and Resync=true,
// changed or not and whatever the zxids say: the server always wins. Tree.Synced still
// means loaded from a server, and Tree events after it are the real differences only. The
// file's paths that nobody holds by the first session are dropped from memory then, and
// from the file at the next write. A missing file is normal; a file that is corrupt,
// truncated, of a newer format or taken under another chroot is ignored with one Warn log
// and renamed to path+".bad", never half applied.
//
// Security: the file holds every node the mirror can read, ACL-protected or not, in
// clear. It is created with mode 0600: only the process's user (and root) can read it;
// choose its directory with that in mind.
func WithSnapshotFile(path string) Option {
	return func(c *config) { c.snapshotFile = path }
}

// validate checks every option against the bounds its doc states.
func (c *config) validate() error {
	bad := func(format string, args ...any) error {
		return newErrf("connect", "", ErrInvalidArgument, format, args...)
	}
	switch {
	case c.sessionTimeout < MinSessionTimeout || c.sessionTimeout > MaxSessionTimeout:
		return bad("session timeout %v not in [%v, %v]", c.sessionTimeout, MinSessionTimeout, MaxSessionTimeout)
	case c.maxDataSize < 1 || c.maxDataSize > MaxDataSizeLimit:
		return bad("max data size %d not in [1, %d]", c.maxDataSize, MaxDataSizeLimit)
	case !(c.resyncJitter >= 0 && c.resyncJitter <= 1): // NaN too
		return bad("resync jitter %v not in [0, 1]", c.resyncJitter)
	case c.readConcurrency < 1:
		return bad("read concurrency %d is below 1", c.readConcurrency)
	}
	for _, a := range c.auth {
		switch {
		case a.scheme == "":
			return bad("auth with an empty scheme")
		case authRequestSize(a.scheme, len(a.auth)) > packetLimit:
			return bad("auth %q of %d bytes does not fit a request to the server", a.scheme, len(a.auth))
		}
	}
	if c.chroot != "" && c.chroot != "/" {
		if why := pathProblem(c.chroot, false); why != "" {
			return &opError{op: "connect", kind: ErrInvalidArgument, cause: ErrInvalidPath, detail: "chroot " + shortPath(c.chroot) + ": " + why}
		}
	}
	return nil
}

// Bounds of TTL: the server keeps a TTL in 40 bits of milliseconds.
const (
	MinTTL = time.Millisecond
	MaxTTL = (1<<40 - 1) * time.Millisecond
)

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

// Sequential appends a monotonically increasing counter to the name: ten digits, the
// parent's child-change count, so Node("/jobs/job-").Create makes "/jobs/job-0000000005".
// With Ephemeral the create is protected: the name gets a "_c_<GUID>-" prefix, as in
// "/jobs/_c_9f0c…e1-job-0000000005" (32 hex digits of GUID), by which the mirror finds the
// node it made when the reply is lost instead of leaving an orphan. Create returns the name
// made; SequenceNumber(name) gives the number alone, and sorting by it orders the nodes.
func Sequential() CreateOption { return func(c *createConfig) { c.sequential = true } }

// Container makes a container node, which the server deletes once its last child is gone.
func Container() CreateOption { return func(c *createConfig) { c.container = true } }

// TTL makes a persistent node the server deletes once it has had no children and no change
// for d, which must be in [MinTTL, MaxTTL] (whole milliseconds, as the server counts them;
// else ErrInvalidArgument). The server must run with -Dzookeeper.extendedTypesEnabled=true;
// another server refuses the create with ErrUnimplemented.
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

// validate says what is wrong with the options, or "".
func (c *createConfig) validate() string {
	switch {
	case c.keep && c.sequential:
		return "Keep with Sequential"
	case c.container && (c.ephemeral || c.sequential || c.ttlSet):
		return "Container with Ephemeral, Sequential or TTL"
	case c.ttlSet && c.ephemeral:
		return "TTL with Ephemeral"
	case c.ttlSet && (c.ttl < MinTTL || c.ttl > MaxTTL):
		return fmt.Sprintf("TTL %v not in [%v, %v]", c.ttl, MinTTL, MaxTTL)
	}
	return ""
}

// spec is what the engine's Create makes.
func (c *createConfig) spec() engine.CreateSpec {
	return engine.CreateSpec{Flags: c.flags(), Container: c.container, TTL: c.ttl, HasTTL: c.ttlSet, Protected: c.ephemeral && c.sequential}
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
