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

func TestReason(t *testing.T) {
	_, badServer := zkmirror.Connect([]string{"h:x"})
	m, err := zkmirror.Connect([]string{"127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, badPath := m.Node("/a//b")
	_, colonPath := m.Node("/a: b//c")
	_, badChroot := zkmirror.Connect([]string{"127.0.0.1:1"}, zkmirror.WithChroot("/a/"))
	for _, c := range []struct {
		err  error
		want string
	}{
		{badServer, `bad server address "h:x": bad port`},
		{badPath, "empty node name"},
		{colonPath, "empty node name"},
		{badChroot, "a path does not end with /"},
		{fmt.Errorf("zkmirror: something else: %w", errors.New("cause")), "cause"},
		{errors.New("no prefix"), "no prefix"},
	} {
		if c.err == nil {
			t.Fatalf("no error for the case wanting %q", c.want)
		}
		if got := reason(c.err); got != c.want {
			t.Errorf("reason(%q) = %q, want %q", c.err, got, c.want)
		}
	}
}
