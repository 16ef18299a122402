package zkmirror

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror/internal/engine"
)

// The errors every call returns, wrapped. errors.Is matches an error returned by this package
// both against these and against the go-zookeeper error behind it, if any; ErrTimeout also
// matches the context's error (context.DeadlineExceeded or context.Canceled) and its cause,
// if it was cancelled with one. An error's text has one "zkmirror:" prefix, the operation and path, and one cause,
// as in "zkmirror: value /a: node does not exist" or "zkmirror: value /a: context canceled".
//
// Every error code a ZooKeeper server or go-zookeeper can return maps to one of these:
// besides the obvious ones, a write the server could not complete in time is ErrTimeout
// (outcome unknown), a lost or moved session ErrConnectionLoss, credentials the server refused
// ErrNoAuth, arguments it refused (an ACL, flags, a path, children of an ephemeral node)
// ErrInvalidArgument, a request it does not implement ErrUnimplemented, a quota it enforces
// ErrQuotaExceeded, a read-only or throttling server ErrUnavailable, and an internal failure
// of the server, or a code this package does not know, ErrServerFailure.
var (
	// ErrNoNode: the node does not exist.
	ErrNoNode = errors.New("zkmirror: node does not exist")
	// ErrTimeout: the context ended before ZooKeeper answered, or before the path had its
	// first contact with ZooKeeper; or the server timed the request out. For a write sent
	// before that, the outcome is unknown.
	ErrTimeout = errors.New("zkmirror: timed out")
	// ErrClosed: the Mirror, Node or Tree was closed.
	ErrClosed = errors.New("zkmirror: closed")
	// ErrInvalidPath: the path is not one ZooKeeper accepts, or too long to fit a request.
	ErrInvalidPath = errors.New("zkmirror: invalid path")
	// ErrBadVersion: the version given does not match the node's.
	ErrBadVersion = errors.New("zkmirror: version conflict")
	// ErrNodeExists: the node already exists.
	ErrNodeExists = errors.New("zkmirror: node already exists")
	// ErrNotEmpty: the node has children.
	ErrNotEmpty = errors.New("zkmirror: node has children")
	// ErrNoAuth: the server refused the operation for lack of permission.
	ErrNoAuth = errors.New("zkmirror: not authorized")
	// ErrDataTooLarge: the data is larger than the size limit, or the whole request (path,
	// data, ACL) does not fit the server's packet limit; nothing was sent.
	ErrDataTooLarge = errors.New("zkmirror: data too large")
	// ErrConnectionLoss: the connection or the session was lost while a write was in
	// flight; whether the server applied it is unknown.
	ErrConnectionLoss = errors.New("zkmirror: connection lost, outcome unknown")
	// ErrInvalidArgument: an argument is out of range, options conflict, or the server
	// refused the request's arguments.
	ErrInvalidArgument = errors.New("zkmirror: invalid argument")
	// ErrAuthFailed: the server refused a credential given with WithAuth (see
	// Mirror.WaitConnected); the session goes on without it.
	ErrAuthFailed = errors.New("zkmirror: authentication failed")
	// ErrUnimplemented: the server does not implement the request (TTL nodes on a server
	// started without -Dzookeeper.extendedTypesEnabled=true, for instance); nothing changed.
	ErrUnimplemented = errors.New("zkmirror: not implemented by the server")
	// ErrQuotaExceeded: the server enforces a quota the write would exceed; nothing changed.
	ErrQuotaExceeded = errors.New("zkmirror: quota exceeded")
	// ErrUnavailable: the server refused the request for now (it is read-only, cut off from
	// its ensemble, or throttling); nothing changed, and a retry may succeed.
	ErrUnavailable = errors.New("zkmirror: server unavailable")
	// ErrServerFailure: the server failed internally, or answered with an error code this
	// package does not know; for a write, the outcome is unknown.
	ErrServerFailure = errors.New("zkmirror: server failure")
)

// sentinelText is a sentinel's text without the package prefix.
func sentinelText(kind error) string {
	return strings.TrimPrefix(kind.Error(), "zkmirror: ")
}

// opError is the error every operation returns: it names the operation and path and
// unwraps to both the sentinel and the cause.
type opError struct {
	op, path string
	kind     error // one of the sentinels; nil for an error of go-zookeeper's we do not know
	cause    error // go-zookeeper's, the context's or the session's error; may be nil
	detail   string
	// causeSays: the cause's own text says what happened (a context's error, a bad server
	// address) and stands in for the sentinel's.
	causeSays bool
	// opSays: op names the sentinel already ("invalid path"); the text gives the detail.
	opSays bool
	// ctxErr is the context's own error when its cause is another error.
	ctxErr error
}

func (e *opError) Error() string {
	var b strings.Builder
	b.WriteString("zkmirror: ")
	b.WriteString(e.op)
	if e.path != "" {
		b.WriteByte(' ')
		b.WriteString(shortPath(e.path))
	}
	b.WriteString(": ")
	switch {
	case e.kind == nil || (e.causeSays && e.cause != nil):
		b.WriteString(e.cause.Error())
		if e.detail != "" {
			b.WriteString(" (" + e.detail + ")")
		}
	case e.opSays:
		b.WriteString(e.detail)
	default:
		b.WriteString(sentinelText(e.kind))
		if e.detail != "" {
			b.WriteString(": " + e.detail)
		} else if e.cause != nil && !knownCause(e.cause) {
			b.WriteString(": " + e.cause.Error())
		}
	}
	return b.String()
}

func (e *opError) Unwrap() []error {
	switch {
	case e.kind == nil:
		return []error{e.cause}
	case e.cause == nil:
		return []error{e.kind}
	case e.ctxErr != nil:
		return []error{e.kind, e.cause, e.ctxErr}
	}
	return []error{e.kind, e.cause}
}

// knownCause reports whether err says nothing its sentinel does not: one of go-zookeeper's
// errors we map, a raw ZooKeeper error code, or one of our sentinels.
func knownCause(err error) bool {
	if _, ok := zkErrs[err]; ok {
		return true
	}
	if _, ok := rawCode(err); ok {
		return true
	}
	for _, s := range sentinels {
		if err == s {
			return true
		}
	}
	return false
}

var sentinels = []error{ErrNoNode, ErrTimeout, ErrClosed, ErrInvalidPath, ErrBadVersion,
	ErrNodeExists, ErrNotEmpty, ErrNoAuth, ErrDataTooLarge, ErrConnectionLoss,
	ErrInvalidArgument, ErrUnimplemented, ErrQuotaExceeded, ErrUnavailable, ErrServerFailure}

// shortPathMax is the longest path an error's text shows whole; a longer one is cut.
const (
	shortPathMax  = 256
	shortPathKeep = 64
)

// shortPath is a path as an error's text shows it: as it is when it is short and printable,
// quoted when it holds characters a terminal would not show, and cut to its first bytes
// and its length when it is long.
func shortPath(p string) string {
	suffix := ""
	if len(p) > shortPathMax {
		n := shortPathKeep
		for n > 0 && !utf8.RuneStart(p[n]) {
			n--
		}
		suffix = "…(" + strconv.Itoa(len(p)) + " bytes)"
		p = p[:n]
	}
	for _, r := range p {
		if r == utf8.RuneError || !strconv.IsPrint(r) || r == ' ' || r == '"' {
			return strconv.Quote(p) + suffix
		}
	}
	return p + suffix
}

func newErr(op, path string, kind, cause error) error {
	return &opError{op: op, path: path, kind: kind, cause: cause}
}

func newErrf(op, path string, kind error, format string, args ...any) error {
	return &opError{op: op, path: path, kind: kind, detail: fmt.Sprintf(format, args...)}
}

// timeoutErr wraps a context's error as ErrTimeout: its text is the context's cause, and it
// matches both the cause and the context's error.
func timeoutErr(op, path string, ctx context.Context) *opError {
	e := &opError{op: op, path: path, kind: ErrTimeout, cause: context.Cause(ctx), causeSays: true}
	if err := ctx.Err(); err != e.cause {
		e.ctxErr = err
	}
	return e
}

// zkMapping is what one of go-zookeeper's errors, or one raw ZooKeeper error code, means.
type zkMapping struct {
	kind   error
	detail string // the cause in words, when the sentinel's text does not say it
}

// zkErrs maps go-zookeeper's errors, and the engine's, to ours.
var zkErrs = map[error]zkMapping{
	zk.ErrNoNode:                  {ErrNoNode, ""},
	zk.ErrNodeExists:              {ErrNodeExists, ""},
	zk.ErrBadVersion:              {ErrBadVersion, ""},
	zk.ErrNotEmpty:                {ErrNotEmpty, ""},
	zk.ErrNoAuth:                  {ErrNoAuth, ""},
	zk.ErrAuthFailed:              {ErrAuthFailed, "the server refused the credentials"},
	zk.ErrInvalidACL:              {ErrInvalidArgument, "the server refused the ACL"},
	zk.ErrInvalidFlags:            {ErrInvalidArgument, "invalid create flags"},
	zk.ErrBadArguments:            {ErrInvalidArgument, "the server refused the request's arguments"},
	zk.ErrNoChildrenForEphemerals: {ErrInvalidArgument, "ephemeral nodes cannot have children"},
	zk.ErrInvalidPath:             {ErrInvalidPath, ""},
	zk.ErrShortBuffer:             {ErrDataTooLarge, "the request does not fit the client's buffer"},
	zk.ErrClosing:                 {ErrClosed, "the connection is closing"},
	zk.ErrNothing:                 {ErrConnectionLoss, "no server response"},
	zk.ErrConnectionClosed:        {ErrConnectionLoss, ""},
	zk.ErrNoServer:                {ErrConnectionLoss, "no server reachable"},
	zk.ErrSessionExpired:          {ErrConnectionLoss, "the session expired"},
	zk.ErrSessionMoved:            {ErrConnectionLoss, "the session moved to another server"},
	zk.ErrReconfigDisabled:        {ErrUnimplemented, "reconfiguration is disabled on the server"},
	zk.ErrAPIError:                {ErrServerFailure, "API error"},
	zk.ErrUnknown:                 {ErrServerFailure, "unknown error"},
	engine.ErrStopped:             {ErrClosed, "the Mirror is closing"},
}

// zkCodes maps the ZooKeeper error codes go-zookeeper does not know, which it returns as
// "unknown error: N", to ours. The codes are ZooKeeper's KeeperException.Code values.
var zkCodes = map[int]zkMapping{
	-1:   {ErrServerFailure, "system error"},
	-2:   {ErrServerFailure, "runtime inconsistency"},
	-3:   {ErrServerFailure, "data inconsistency"},
	-4:   {ErrConnectionLoss, "the server lost the connection"},
	-5:   {ErrServerFailure, "marshalling error"},
	-6:   {ErrUnimplemented, "the server does not implement this request"},
	-7:   {ErrTimeout, "the server timed the operation out; its outcome is unknown"},
	-8:   {ErrInvalidArgument, "the server refused the request's arguments"},
	-9:   {ErrServerFailure, "invalid state"},
	-12:  {ErrConnectionLoss, "the server does not know the session"},
	-13:  {ErrUnavailable, "the new configuration has no quorum"},
	-14:  {ErrUnavailable, "a reconfiguration is in progress"},
	-100: {ErrServerFailure, "API error"},
	-113: {ErrInvalidArgument, "invalid callback"},
	-119: {ErrUnavailable, "the server is read-only"},
	-120: {ErrInvalidArgument, "ephemeral nodes need a global session, not a local one"},
	-121: {ErrInvalidArgument, "no such watch"},
	-122: {ErrTimeout, "the server timed the request out; its outcome is unknown"},
	-124: {ErrNoAuth, "the session was closed: the server requires SASL authentication"},
	-125: {ErrQuotaExceeded, ""},
	-127: {ErrUnavailable, "the server is throttling requests; retry later"},
}

// rawCode parses go-zookeeper's "unknown error: N" for a code it does not know.
func rawCode(err error) (int, bool) {
	s, ok := strings.CutPrefix(err.Error(), "unknown error: ")
	if !ok {
		return 0, false
	}
	n, perr := strconv.Atoi(s)
	return n, perr == nil
}

// zkKind returns what a go-zookeeper error means; ok is false for an error that is not one
// of go-zookeeper's errors or codes.
func zkKind(err error) (zkMapping, bool) {
	if m, ok := zkErrs[err]; ok {
		return m, true
	}
	if n, ok := rawCode(err); ok {
		if m, ok := zkCodes[n]; ok {
			return m, true
		}
		return zkMapping{ErrServerFailure, "ZooKeeper error code " + strconv.Itoa(n)}, true
	}
	return zkMapping{}, false
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
	if m, ok := zkKind(err); ok {
		return &opError{op: op, path: path, kind: m.kind, cause: err, detail: m.detail}
	}
	if engine.IsSocketErr(err) {
		return newErr(op, path, ErrConnectionLoss, err)
	}
	return &opError{op: op, path: path, cause: err}
}
