// Package progtest holds what the tests of the programs (cmd/zkmirror and the examples)
// share: an output buffer that tests read line by line while a program writes to it, a plain
// go-zookeeper client for writing behind the programs' backs, a way to run a program until
// the test stops it, and a way to run a program's built binary: the package's test binary,
// started again as the program itself (RunAsProgram, Command).
package progtest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// Output is an io.Writer safe for concurrent use that a test reads line by line, in order.
type Output struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	cursor int // lines before it were consumed by Expect
	wake   chan struct{}
}

// Write appends p.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, err := o.buf.Write(p)
	if o.wake != nil {
		close(o.wake)
		o.wake = nil
	}
	return n, err
}

// String returns everything written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// Lines returns the complete lines written so far.
func (o *Output) Lines() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return completeLines(o.buf.String())
}

func completeLines(s string) []string {
	i := strings.LastIndexByte(s, '\n')
	if i < 0 {
		return nil
	}
	return strings.Split(s[:i], "\n")
}

// Expect waits until a line containing want is written after the lines consumed by earlier
// calls, consumes the lines up to and including it and returns it. It fails t, quoting the
// whole output, if no such line comes within timeout.
func (o *Output) Expect(t testing.TB, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		o.mu.Lock()
		lines := completeLines(o.buf.String())
		for i := o.cursor; i < len(lines); i++ {
			if strings.Contains(lines[i], want) {
				o.cursor = i + 1
				o.mu.Unlock()
				return lines[i]
			}
		}
		if o.wake == nil {
			o.wake = make(chan struct{})
		}
		wake := o.wake
		o.mu.Unlock()
		select {
		case <-wake:
		case <-deadline.C:
			t.Fatalf("no line containing %q within %v; output:\n%s", want, timeout, o.String())
		}
	}
}

// Start runs f in a goroutine with a context the returned stop function cancels; stop then
// waits for f to return and returns its result (an error, or an exit code), the same on
// every call. Stop is also registered with t.Cleanup, so f never outlives the test.
func Start[R any](t testing.TB, f func(ctx context.Context) R) (stop func() R) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan R, 1)
	go func() { done <- f(ctx) }()
	var once sync.Once
	var result R
	stop = func() R {
		once.Do(func() {
			cancel()
			select {
			case result = <-done:
			case <-time.After(30 * time.Second):
				t.Errorf("the program did not return within 30s of being stopped")
				result = <-done
			}
		})
		return result
	}
	t.Cleanup(func() { stop() })
	return stop
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// RawClient returns a plain go-zookeeper client connected to addrs, with a session, closed
// (and its goroutines ended) when the test ends.
func RawClient(t testing.TB, addrs []string) *zk.Conn {
	t.Helper()
	conn, events, err := zk.Connect(addrs, 5*time.Second, zk.WithLogger(nopLogger{}), zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		for range events { // closes once every goroutine of conn has ended
		}
	})
	deadline := time.After(20 * time.Second)
	for conn.State() != zk.StateHasSession {
		select {
		case <-events:
		case <-deadline:
			t.Fatal("raw client: no session within 20s")
		}
	}
	return conn
}

// CreateAll creates path and any missing parent, all persistent, with data on path itself;
// a node that exists already is left as it is.
func CreateAll(t testing.TB, conn *zk.Conn, path string, data []byte) {
	t.Helper()
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := range parts {
		p := "/" + strings.Join(parts[:i+1], "/")
		var d []byte
		if i == len(parts)-1 {
			d = data
		}
		if _, err := conn.Create(p, d, 0, zk.WorldACL(zk.PermAll)); err != nil && err != zk.ErrNodeExists {
			t.Fatalf("create %s: %v", p, err)
		}
	}
}

// UniquePath returns a fresh top-level path for the test.
func UniquePath(t testing.TB) string {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	return "/" + name + "-" + time.Now().Format("150405.000000000")
}

// programEnv, set to 1 in a test binary's environment, makes RunAsProgram run the program.
const programEnv = "ZKMIRROR_PROGTEST_RUN_PROGRAM"

// RunAsProgram is called first in a program's TestMain, with the program's main. In a test
// binary started by Command it runs main, which exits with the program's status (RunAsProgram
// exits 0 if main returns); otherwise it returns at once and the tests run.
func RunAsProgram(main func()) {
	if os.Getenv(programEnv) != "1" {
		return
	}
	main()
	os.Exit(0)
}

// Command returns a command that runs the program under test with args: this test binary,
// whose TestMain calls RunAsProgram, built as the tests are (with -race under -race). Its
// environment is the test's.
func Command(args ...string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), programEnv+"=1")
	return cmd, nil
}

// ExitCode runs the program with args, its output to stdout and stderr, until it exits, and
// returns its exit status. When ctx ends the program gets SIGINT, as from Ctrl-C, and is
// killed if it has not exited 30 s later. A program that could not be started or was killed
// is reported with t.Errorf, and ExitCode returns -1. It may be called from any goroutine.
func ExitCode(ctx context.Context, t testing.TB, stdout, stderr *Output, args ...string) int {
	cmd, err := Command(args...)
	if err != nil {
		t.Errorf("program %q: %v", args, err)
		return -1
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Errorf("program %q: %v", args, err)
		return -1
	}
	exited := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-exited:
			return
		case <-ctx.Done():
		}
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			t.Errorf("program %q did not exit within 30s of SIGINT; killed", args)
			cmd.Process.Kill()
		}
	})
	err = cmd.Wait()
	close(exited)
	wg.Wait()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode()
	default:
		t.Errorf("program %q: %v; stderr:\n%s", args, err, stderr.String())
		return -1
	}
}
