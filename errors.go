package zkmirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/go-zookeeper/zk"
)

// The errors every call returns, wrapped. errors.Is matches an error returned by this package
// both against these and against the go-zookeeper error behind it, if any; ErrTimeout also
// matches the context's error (context.DeadlineExceeded or context.Canceled).
var (
	// ErrNoNode: the node does not exist.
	ErrNoNode = errors.New("zkmirror: node does not exist")
	// ErrTimeout: the context ended before ZooKeeper answered, or before the path had its
	// first contact with ZooKeeper.
	ErrTimeout = errors.New("zkmirror: timed out")
	// ErrClosed: the Mirror, Node or Tree was closed.
	ErrClosed = errors.New("zkmirror: closed")
	// ErrInvalidPath: the path is not a valid ZooKeeper path.
	ErrInvalidPath = errors.New("zkmirror: invalid path")
	// ErrBadVersion: the version given does not match the node's.
	ErrBadVersion = errors.New("zkmirror: version conflict")
	// ErrNodeExists: the node already exists.
	ErrNodeExists = errors.New("zkmirror: node already exists")
	// ErrNotEmpty: the node has children.
	ErrNotEmpty = errors.New("zkmirror: node has children")
	// ErrNoAuth: the server refused the operation for lack of permission.
	ErrNoAuth = errors.New("zkmirror: not authorized")
	// ErrDataTooLarge: the data is larger than the size limit; nothing was sent.
	ErrDataTooLarge = errors.New("zkmirror: data too large")
	// ErrConnectionLoss: the connection dropped while a write was in flight; whether the
	// server applied it is unknown.
	ErrConnectionLoss = errors.New("zkmirror: connection lost, outcome unknown")
	// ErrInvalidArgument: an argument is out of range or options conflict.
	ErrInvalidArgument = errors.New("zkmirror: invalid argument")
	// ErrAuthFailed: the server refused a credential given with WithAuth (Mirror.WaitConnected).
	ErrAuthFailed = errors.New("zkmirror: authentication failed")
)

// opError is the error every operation returns: it names the operation and path and
// unwraps to both the sentinel and the cause.
type opError struct {
	op, path string
	kind     error // one of the sentinels
	cause    error // go-zookeeper's or the context's error; may be nil
	detail   string
}

func (e *opError) Error() string {
	msg := e.kind.Error()
	if e.detail != "" {
		msg += ": " + e.detail
	}
	if e.cause != nil && e.cause != e.kind {
		msg += ": " + e.cause.Error()
	}
	if e.path != "" {
		return fmt.Sprintf("%s %s: %s", e.op, e.path, msg)
	}
	return fmt.Sprintf("%s: %s", e.op, msg)
}

func (e *opError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

func newErr(op, path string, kind, cause error) error {
	return &opError{op: op, path: path, kind: kind, cause: cause}
}

func newErrf(op, path string, kind error, format string, args ...any) error {
	return &opError{op: op, path: path, kind: kind, detail: fmt.Sprintf(format, args...)}
}

// timeoutErr wraps a context's error as ErrTimeout.
func timeoutErr(op, path string, ctx context.Context) error {
	return &opError{op: op, path: path, kind: ErrTimeout, cause: context.Cause(ctx)}
}

// zkErrKinds maps go-zookeeper's errors to ours.
var zkErrKinds = map[error]error{
	zk.ErrNoNode:                  ErrNoNode,
	zk.ErrNodeExists:              ErrNodeExists,
	zk.ErrBadVersion:              ErrBadVersion,
	zk.ErrNotEmpty:                ErrNotEmpty,
	zk.ErrNoAuth:                  ErrNoAuth,
	zk.ErrAuthFailed:              ErrNoAuth,
	zk.ErrInvalidACL:              ErrInvalidArgument,
	zk.ErrInvalidFlags:            ErrInvalidArgument,
	zk.ErrBadArguments:            ErrInvalidArgument,
	zk.ErrNoChildrenForEphemerals: ErrInvalidArgument,
	zk.ErrInvalidPath:             ErrInvalidPath,
	zk.ErrClosing:                 ErrClosed,
	zk.ErrConnectionClosed:        ErrConnectionLoss,
	zk.ErrNoServer:                ErrConnectionLoss,
	zk.ErrSessionExpired:          ErrConnectionLoss,
	zk.ErrSessionMoved:            ErrConnectionLoss,
}

// wrapZK turns a go-zookeeper error into ours. Errors we do not know keep their identity
// and gain the operation and path.
func wrapZK(op, path string, err error) error {
	if err == nil {
		return nil
	}
	var oe *opError
	if errors.As(err, &oe) {
		return err
	}
	if kind, ok := zkErrKinds[err]; ok {
		return newErr(op, path, kind, err)
	}
	if isSocketErr(err) {
		return newErr(op, path, ErrConnectionLoss, err)
	}
	return fmt.Errorf("%s %s: %w", op, path, err)
}

// isSocketErr reports whether err is a socket error go-zookeeper passed through as it was
// (a write on a connection that just broke).
func isSocketErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
}

// isConnErr reports whether err means the request did not get a definite answer because the
// connection or session went away.
func isConnErr(err error) bool {
	return errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer) ||
		errors.Is(err, zk.ErrSessionExpired) || errors.Is(err, zk.ErrSessionMoved) ||
		errors.Is(err, zk.ErrClosing) || errors.Is(err, ErrConnectionLoss) || isSocketErr(err)
}
