package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/zkmirror/zkmirror"
)

func TestGetDataRendering(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"two\nlines\n", "two\nlines\n"},
		{"a\tb", "a\tb"},
		{"héllo wörld", "héllo wörld"},
		{" padded ", " padded "},
		{"\xff", `"\xff"`},
		{"nul\x00", `"nul\x00"`},
		{"cr\r\n", `"cr\r\n"`},
		{"\x1b[2J", `"\x1b[2J"`},
		{"del\x7f", `"del\x7f"`},
		{"\u0085next line", `"\u0085next line"`},
		{`"a"`, `"\"a\""`},
		{`say "a"`, `say "a"`},
	} {
		if got := getData([]byte(c.in)); got != c.want {
			t.Errorf("getData(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// textErr is an error with a given text that matches kind.
type textErr struct {
	text string
	kind error
}

func (e textErr) Error() string { return e.text }
func (e textErr) Unwrap() error { return e.kind }

func TestReason(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{textErr{"validate /a//b: zkmirror: invalid path: empty node name", zkmirror.ErrInvalidPath}, "empty node name"},
		{textErr{"zkmirror: validate /a//b: invalid path: empty node name", zkmirror.ErrInvalidPath}, "empty node name"},
		{textErr{"connect: zkmirror: invalid argument: bad server address: \"h:x\": bad port", zkmirror.ErrInvalidArgument}, `bad server address: "h:x": bad port`},
		{textErr{"zkmirror: invalid path", zkmirror.ErrInvalidPath}, "invalid path"},
		{fmt.Errorf("zkmirror: something else: %w", errors.New("cause")), "something else: cause"},
	} {
		if got := reason(c.err); got != c.want {
			t.Errorf("reason(%q) = %q, want %q", c.err, got, c.want)
		}
	}
}
