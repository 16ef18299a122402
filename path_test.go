package zkmirror

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidatePath(t *testing.T) {
	for _, tc := range []struct {
		path       string
		sequential bool
		ok         bool
	}{
		{"/", false, true},
		{"/a", false, true},
		{"/a/b/c", false, true},
		{"/a.b/..c/d..", false, true},
		{"/", true, true},
		{"/a/", true, true},
		{"", false, false},
		{"a", false, false},
		{"/a/", false, false},
		{"/a//b", false, false},
		{"/a/./b", false, false},
		{"/a/../b", false, false},
		{"/..", false, false},
		{"/a/.", false, false},
		{"/a\x00", false, false},
		{"/a\x1f", false, false},
		{"/a\u007f", false, false},
		{"/a\u009f", false, false},
		{"/a\ue000", false, false},
		{"/a\ufff0", false, false},
		{"/a\xff", false, false},
		{"//", true, false},
	} {
		err := validatePath(tc.path, tc.sequential)
		if (err == nil) != tc.ok {
			t.Errorf("validatePath(%q, %v) = %v, want ok=%v", tc.path, tc.sequential, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidPath) {
			t.Errorf("validatePath(%q): %v is not ErrInvalidPath", tc.path, err)
		}
	}
}

// FuzzValidatePath checks the validator against an independent statement of ZooKeeper's
// rules, and that it never panics.
func FuzzValidatePath(f *testing.F) {
	for _, s := range []string{"/", "/a", "/a/b", "", "a", "/a/", "//", "/./", "/a/../b", "/\x00", "/ü", "/\uf8ff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		err := validatePath(p, false)
		want := referenceValid(p)
		if (err == nil) != want {
			t.Fatalf("validatePath(%q) = %v, reference says valid=%v", p, err, want)
		}
		if err != nil && !errors.Is(err, ErrInvalidPath) {
			t.Fatalf("not ErrInvalidPath: %v", err)
		}
	})
}

// referenceValid restates ZooKeeper's PathUtils.validatePath rule by rule.
func referenceValid(p string) bool {
	if p == "/" {
		return true
	}
	if !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || !utf8.ValidString(p) {
		return false
	}
	for _, seg := range strings.Split(p, "/")[1:] {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	for _, r := range p {
		switch {
		case r == 0, r > 0 && r < 0x20, r >= 0x7f && r < 0xa0, r >= 0xd800 && r <= 0xf8ff, r >= 0xfff0 && r <= 0xffff:
			return false
		}
	}
	return true
}

func TestChroot(t *testing.T) {
	c := chroot("/app")
	if c.toServer("/") != "/app" || c.toServer("/a") != "/app/a" {
		t.Fatal("toServer")
	}
	for in, want := range map[string]string{"/app": "/", "/app/a": "/a"} {
		if got, ok := c.toUser(in); !ok || got != want {
			t.Fatalf("toUser(%q) = %q %v", in, got, ok)
		}
	}
	if _, ok := c.toUser("/apple"); ok {
		t.Fatal("/apple is outside /app")
	}
	if parentPath("/a/b") != "/a" || parentPath("/a") != "/" || parentPath("/") != "/" {
		t.Fatal("parentPath")
	}
}
