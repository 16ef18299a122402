package zkmirror

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/zkmirror/zkmirror/internal/engine"
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
		{"/a\U0001F600", false, false},
		{"/a\U00010000", false, false},
		{"/a\U0010FFFF", false, false},
		{"/a\uffef", false, true},
		{"/a\uf900", false, true},
		{"/a\ud7ff", false, true},
		{"/a\u00a0", false, true},
		{"/a\xed\xa0\x80", false, false}, // an encoded surrogate is not UTF-8
		{"/" + strings.Repeat("x", MaxPathLen-1), false, true},
		{"/" + strings.Repeat("x", MaxPathLen), false, false},
		{"/" + strings.Repeat("x", 1<<20), false, false},
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
	for _, s := range []string{"/", "/a", "/a/b", "", "a", "/a/", "//", "/./", "/a/../b", "/\x00", "/ü", "/\uf8ff", "/\U0001F600", "/a\uffef", "/\xed\xa0\x80"} {
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
	if len(p) > 0xfffff-32 { // the SetWatches request re-arming it alone would not fit
		return false
	}
	// The server checks Java chars: UTF-16 code units, so a code point above U+FFFF is
	// a surrogate pair.
	for _, c := range utf16.Encode([]rune(p)) {
		switch {
		case c == 0, c > 0 && c < 0x20, c >= 0x7f && c < 0xa0, c >= 0xd800 && c <= 0xf8ff, c >= 0xfff0:
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
	if engine.ParentPath("/a/b") != "/a" || engine.ParentPath("/a") != "/" || engine.ParentPath("/") != "/" {
		t.Fatal("parentPath")
	}
}

func TestSequenceNumber(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int64
		ok   bool
	}{
		{"/jobs/job-0000000005", 5, true},
		{"job-0000000005", 5, true},
		{"/jobs/_c_0123456789abcdef0123456789abcdef-job-0000000005", 5, true},
		{"/jobs/0000000000", 0, true},
		{"/jobs/x2147483647", 2147483647, true},
		{"/jobs/x-000000001", -1, true},  // the counter wrapped
		{"/jobs/x2147483648", 0, false},  // not an int32
		{"/0000000005/job", 0, false},    // the number is in the last element only
		{"/jobs/job-00000005", 0, false}, // eight digits
		{"/jobs/job-00000+0005", 0, false},
		{"/jobs/job", 0, false},
		{"", 0, false},
	} {
		n, ok := SequenceNumber(tc.name)
		if n != tc.n || ok != tc.ok {
			t.Errorf("SequenceNumber(%q) = %d, %v; want %d, %v", tc.name, n, ok, tc.n, tc.ok)
		}
	}
}
