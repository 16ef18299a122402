package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zkmirror/zkmirror/internal/progtest"
	"github.com/zkmirror/zkmirror/leaktest"
)

// TestBuiltProgram builds the command with go build, as a user installs it, and runs the
// binary against the server: a value, a missing node (exit 1) and a bad path (exit 2). The
// other tests run the same main in a re-executed test binary, under -race.
func TestBuiltProgram(t *testing.T) {
	leaktest.Check(t)
	bin := filepath.Join(t.TempDir(), "zkmirror")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	p := progtest.UniquePath(t)
	create(t, rawClient(t), p, "built")
	for _, c := range []struct {
		args   []string
		code   int
		stdout string // prefix
		stderr string // substring
	}{
		{[]string{"-servers", servers(), "get", p}, 0, "built\n", ""},
		{[]string{"-servers", servers(), "get", p + "-missing"}, 1, "", "no such node"},
		{[]string{"-servers", servers(), "get", "/a//b"}, 2, "", `invalid PATH "/a//b": empty node name`},
	} {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, c.args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != c.code || !strings.HasPrefix(stdout.String(), c.stdout) || !strings.Contains(stderr.String(), c.stderr) {
			t.Errorf("zkmirror %q: exit %d, stdout %q, stderr %q; want exit %d", c.args, code, stdout.String(), stderr.String(), c.code)
		}
	}
}
