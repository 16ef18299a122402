package zkmirror

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-zookeeper/zk"
)

// Every error go-zookeeper v1.0.4 can return for a request, and every ZooKeeper error code
// (KeeperException.Code) it passes on as "unknown error: N", maps to a sentinel with a
// text that names the cause.
func TestZKErrorMapping(t *testing.T) {
	code := func(n int) error { return fmt.Errorf("unknown error: %v", zk.ErrCode(n)) }
	for _, tc := range []struct {
		err  error
		kind error
		text string // in the error's text, besides the sentinel's
	}{
		{zk.ErrNoNode, ErrNoNode, "node does not exist"},
		{zk.ErrNodeExists, ErrNodeExists, "node already exists"},
		{zk.ErrBadVersion, ErrBadVersion, "version conflict"},
		{zk.ErrNotEmpty, ErrNotEmpty, "node has children"},
		{zk.ErrNoAuth, ErrNoAuth, "not authorized"},
		{zk.ErrAuthFailed, ErrAuthFailed, "refused the credentials"},
		{zk.ErrInvalidACL, ErrInvalidArgument, "refused the ACL"},
		{zk.ErrInvalidFlags, ErrInvalidArgument, "flags"},
		{zk.ErrBadArguments, ErrInvalidArgument, "refused the request's arguments"},
		{zk.ErrNoChildrenForEphemerals, ErrInvalidArgument, "ephemeral nodes cannot have children"},
		{zk.ErrInvalidPath, ErrInvalidPath, "invalid path"},
		{zk.ErrShortBuffer, ErrDataTooLarge, "buffer"},
		{zk.ErrClosing, ErrClosed, "closing"},
		{zk.ErrNothing, ErrConnectionLoss, "no server response"},
		{zk.ErrConnectionClosed, ErrConnectionLoss, "outcome unknown"},
		{zk.ErrNoServer, ErrConnectionLoss, "no server reachable"},
		{zk.ErrSessionExpired, ErrConnectionLoss, "session expired"},
		{zk.ErrSessionMoved, ErrConnectionLoss, "session moved"},
		{zk.ErrReconfigDisabled, ErrUnimplemented, "reconfiguration is disabled"},
		{zk.ErrAPIError, ErrServerFailure, "API error"},
		{zk.ErrUnknown, ErrServerFailure, "unknown error"},
		{code(-1), ErrServerFailure, "system error"},
		{code(-2), ErrServerFailure, "runtime inconsistency"},
		{code(-3), ErrServerFailure, "data inconsistency"},
		{code(-4), ErrConnectionLoss, "lost the connection"},
		{code(-5), ErrServerFailure, "marshalling"},
		{code(-6), ErrUnimplemented, "does not implement"},
		{code(-7), ErrTimeout, "outcome is unknown"},
		{code(-9), ErrServerFailure, "invalid state"},
		{code(-12), ErrConnectionLoss, "does not know the session"},
		{code(-13), ErrUnavailable, "no quorum"},
		{code(-14), ErrUnavailable, "reconfiguration is in progress"},
		{code(-113), ErrInvalidArgument, "invalid callback"},
		{code(-119), ErrUnavailable, "read-only"},
		{code(-120), ErrInvalidArgument, "local"},
		{code(-121), ErrInvalidArgument, "no such watch"},
		{code(-122), ErrTimeout, "outcome is unknown"},
		{code(-124), ErrNoAuth, "SASL"},
		{code(-125), ErrQuotaExceeded, "quota exceeded"},
		{code(-127), ErrUnavailable, "throttling"},
		{code(-999), ErrServerFailure, "error code -999"},
	} {
		err := wrapZK("create", "/a", tc.err)
		if !errors.Is(err, tc.kind) {
			t.Errorf("%v: %v is not %v", tc.err, err, tc.kind)
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("%v: %v does not match go-zookeeper's error", tc.err, err)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "zkmirror: create /a: ") || strings.Count(msg, "zkmirror") != 1 {
			t.Errorf("%v: text %q", tc.err, msg)
		}
		if !strings.Contains(msg, tc.text) {
			t.Errorf("%v: text %q does not say %q", tc.err, msg, tc.text)
		}
		if strings.Contains(msg, "zk: ") || strings.Contains(msg, "unknown error: ") {
			t.Errorf("%v: text %q repeats go-zookeeper's", tc.err, msg)
		}
	}
	// An error that is neither go-zookeeper's nor a socket's keeps its identity and text.
	other := errors.New("something else")
	if err := wrapZK("set", "/b", other); !errors.Is(err, other) || err.Error() != "zkmirror: set /b: something else" {
		t.Errorf("other: %v", err)
	}
	// Ours pass through untouched.
	ours := newErr("set", "/b", ErrBadVersion, zk.ErrBadVersion)
	if err := wrapZK("set", "/c", ours); err != ours {
		t.Errorf("ours: %v", err)
	}
}

func TestErrorText(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	long := "/" + strings.Repeat("é", 5000)
	shutdown := errors.New("shutting down")
	caused, cancelCause := context.WithCancelCause(context.Background())
	cancelCause(shutdown)
	sent := timeoutErr("set", "/a", canceled)
	sent.detail = "the request was sent; its outcome is unknown"
	for _, tc := range []struct {
		err   error
		text  string
		kinds []error
	}{
		{newErr("value", "/demo/missing", ErrNoNode, zk.ErrNoNode),
			"zkmirror: value /demo/missing: node does not exist", []error{ErrNoNode, zk.ErrNoNode}},
		{timeoutErr("value", "/a", canceled),
			"zkmirror: value /a: context canceled", []error{ErrTimeout, context.Canceled}},
		{timeoutErr("value", "/a", caused),
			"zkmirror: value /a: shutting down", []error{ErrTimeout, shutdown, context.Canceled}},
		{sent, "zkmirror: set /a: context canceled (the request was sent; its outcome is unknown)", []error{ErrTimeout, context.Canceled}},
		{newErr("set", "/a", ErrClosed, nil), "zkmirror: set /a: closed", []error{ErrClosed}},
		{newErrf("set", "/a", ErrDataTooLarge, "%d bytes, limit %d", 9, 8),
			"zkmirror: set /a: data too large: 9 bytes, limit 8", []error{ErrDataTooLarge}},
		{validatePath("/a//b", false), "zkmirror: invalid path /a//b: empty node name", []error{ErrInvalidPath}},
		{validatePath("/a\x01", false), `zkmirror: invalid path "/a\x01": control character U+0001`, []error{ErrInvalidPath}},
		{validatePath("/a b\U0001F600", false), `zkmirror: invalid path "/a b😀": character U+1F600 above U+FFFF (ZooKeeper refuses surrogate pairs)`, []error{ErrInvalidPath}},
		{newErr("value", long, ErrNoNode, zk.ErrNoNode),
			"zkmirror: value /" + strings.Repeat("é", 31) + "…(10001 bytes): node does not exist", []error{ErrNoNode}},
	} {
		if got := tc.err.Error(); got != tc.text {
			t.Errorf("text\n got %q\nwant %q", got, tc.text)
		}
		for _, k := range tc.kinds {
			if !errors.Is(tc.err, k) {
				t.Errorf("%v is not %v", tc.err, k)
			}
		}
	}
}

func TestShortPath(t *testing.T) {
	for in, want := range map[string]string{
		"/a/b":                           "/a/b",
		"/a b":                           `"/a b"`,
		"/a\xff":                         `"/a\xff"`,
		"/" + strings.Repeat("x", 255):   "/" + strings.Repeat("x", 255),
		"/" + strings.Repeat("x", 256):   "/" + strings.Repeat("x", 63) + "…(257 bytes)",
		"/" + strings.Repeat("x", 1<<20): "/" + strings.Repeat("x", 63) + "…(1048577 bytes)",
	} {
		if got := shortPath(in); got != want {
			t.Errorf("shortPath(%.20q…) = %q, want %q", in, got, want)
		}
	}
}
