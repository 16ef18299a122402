//go:build !linux

package zktest

import (
	"syscall"
	"time"
)

// sysProcAttr returns nil: only Linux can tie a child's life to its
// parent's, so elsewhere a server outlives a test process that dies
// without calling Cluster.Close.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// waitStopped returns at once: without /proc there is no portable way to
// observe that SIGSTOP took effect.
func waitStopped(pid int, timeout time.Duration) error { return nil }
