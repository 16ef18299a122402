package zkmirror

import (
	"strings"
	"unicode/utf8"
)

// validatePath applies ZooKeeper's own path rules: absolute, no empty, "." or ".." segment,
// no trailing slash (except the root; a sequential create may end in a slash), valid UTF-8,
// and none of the characters ZooKeeper refuses (NUL, control characters, U+007F–U+009F,
// U+D800–U+F8FF, U+FFF0–U+FFFF).
func validatePath(p string, sequential bool) error {
	if p == "" {
		return newErrf("validate", p, ErrInvalidPath, "empty path")
	}
	if p[0] != '/' {
		return newErrf("validate", p, ErrInvalidPath, "path must start with /")
	}
	if p == "/" && !sequential {
		return nil
	}
	if sequential && strings.HasSuffix(p, "/") {
		p += "1" // the server appends the sequence number
	}
	if p[len(p)-1] == '/' {
		return newErrf("validate", p, ErrInvalidPath, "path must not end with /")
	}
	if !utf8.ValidString(p) {
		return newErrf("validate", p, ErrInvalidPath, "path is not valid UTF-8")
	}
	for _, seg := range strings.Split(p[1:], "/") {
		switch seg {
		case "":
			return newErrf("validate", p, ErrInvalidPath, "empty node name")
		case ".", "..":
			return newErrf("validate", p, ErrInvalidPath, "relative paths are not allowed")
		}
		for _, r := range seg {
			if r == 0 {
				return newErrf("validate", p, ErrInvalidPath, "NUL character")
			}
			if r <= 0x1f || (r >= 0x7f && r <= 0x9f) || (r >= 0xd800 && r <= 0xf8ff) || (r >= 0xfff0 && r <= 0xffff) {
				return newErrf("validate", p, ErrInvalidPath, "invalid character %U", r)
			}
		}
	}
	return nil
}

// parentPath returns the parent of a valid path ("/" for a top-level node and for "/").
func parentPath(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// chroot maps between the paths users see and the paths on the server.
type chroot string

func (c chroot) toServer(p string) string {
	if c == "" {
		return p
	}
	if p == "/" {
		return string(c)
	}
	return string(c) + p
}

// toUser maps a server path back; ok is false for a path outside the chroot.
func (c chroot) toUser(p string) (string, bool) {
	if c == "" {
		return p, true
	}
	if p == string(c) {
		return "/", true
	}
	if strings.HasPrefix(p, string(c)) && len(p) > len(c) && p[len(c)] == '/' {
		return p[len(c):], true
	}
	return "", false
}
