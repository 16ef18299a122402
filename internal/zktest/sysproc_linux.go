package zktest

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// sysProcAttr makes the kernel kill a server when the test process dies,
// even abruptly (a panic, a test timeout, SIGKILL), so that no JVM outlives
// its tests. Strictly, the signal follows the death of the OS thread that
// started the server; Go only retires threads whose goroutine exits while
// locked to them, which the tests using this package do not do.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// waitStopped waits until /proc reports the process stopped (state T),
// since SIGSTOP is delivered asynchronously.
func waitStopped(pid int, timeout time.Duration) error {
	path := "/proc/" + strconv.Itoa(pid) + "/stat"
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
		if f, err := procStatFields(b); err == nil && len(f) > 0 && (f[0] == "T" || f[0] == "t") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("process %d not stopped after %v", pid, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
