package zkmirror

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// validatePath applies ZooKeeper's own path rules (its server's PathUtils.validatePath):
// absolute, no empty, "." or ".." name, no trailing slash (except the root; a sequential
// create may end in a slash), valid UTF-8, none of the characters the server refuses (NUL,
// U+0001–U+001F, U+007F–U+009F, U+D800–U+F8FF, U+FFF0–U+FFFF, and every code point above
// U+FFFF, which Java holds as a surrogate pair), and no longer than MaxPathLen bytes. The
// error is ErrInvalidPath and says what is wrong.
func validatePath(p string, sequential bool) error {
	if why := pathProblem(p, sequential); why != "" {
		return invalidPath(p, why)
	}
	return nil
}

func invalidPath(p, why string) error {
	return &opError{op: "invalid path", path: p, kind: ErrInvalidPath, detail: why, opSays: true}
}

// pathProblem says what is wrong with p as a ZooKeeper path, or "" if nothing is.
func pathProblem(p string, sequential bool) string {
	if p == "" {
		return "empty path"
	}
	if p[0] != '/' {
		return "a path starts with /"
	}
	if len(p) > MaxPathLen {
		return fmt.Sprintf("%d bytes, longer than the %d a request to the server can carry", len(p), MaxPathLen)
	}
	if p == "/" && !sequential {
		return ""
	}
	if sequential && strings.HasSuffix(p, "/") {
		p += "1" // the server appends the sequence number
	}
	if p[len(p)-1] == '/' {
		return "a path does not end with /"
	}
	if !utf8.ValidString(p) {
		return "not valid UTF-8"
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		switch seg {
		case "":
			return "empty node name"
		case ".", "..":
			return "relative paths are not allowed"
		}
		for _, r := range seg {
			if why := runeProblem(r); why != "" {
				return why
			}
		}
	}
	return ""
}

// runeProblem says why the server refuses r in a path, or "" if it accepts it.
func runeProblem(r rune) string {
	switch {
	case r == 0:
		return "NUL character"
	case r <= 0x1f || (r >= 0x7f && r <= 0x9f):
		return fmt.Sprintf("control character %U", r)
	case r >= 0xd800 && r <= 0xdfff:
		return fmt.Sprintf("surrogate %U", r)
	case r >= 0xe000 && r <= 0xf8ff:
		return fmt.Sprintf("private-use character %U", r)
	case r >= 0xfff0 && r <= 0xffff:
		return fmt.Sprintf("character %U (U+FFF0 to U+FFFF are refused)", r)
	case r > 0xffff:
		return fmt.Sprintf("character %U above U+FFFF (ZooKeeper refuses surrogate pairs)", r)
	}
	return ""
}

// SequenceNumber returns the sequence number the server appended to the name of a node
// created with Sequential: the last ten characters of its last path element, a signed
// decimal (the server's counter is an int32 and wraps to negative numbers). It accepts a
// path or a bare name, and ignores the "_c_<GUID>-" marker that an Ephemeral Sequential
// create puts in front of the name: SequenceNumber("/jobs/_c_<GUID>-job-0000000005") and
// SequenceNumber("job-0000000005") are both 5, true. ok is false when the name does not end
// in a sequence number.
func SequenceNumber(name string) (n int64, ok bool) {
	name = name[strings.LastIndexByte(name, '/')+1:]
	if len(name) < sequenceDigits {
		return 0, false
	}
	digits := name[len(name)-sequenceDigits:]
	for i := 0; i < len(digits); i++ {
		if c := digits[i]; (c < '0' || c > '9') && !(i == 0 && c == '-') {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(digits, 10, 32)
	if err != nil {
		return 0, false
	}
	return v, true
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
