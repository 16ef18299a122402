package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuTime returns the CPU time this process has used so far, user and system, all threads.
// The ZooKeeper servers the benchmark starts are other processes and are not counted.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ioSyscalls returns how many read and write system calls this process has made so far
// (syscr and syscw in /proc/self/io), or -1, -1 where that is not available.
func ioSyscalls() (reads, writes int64) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1, -1
	}
	reads, writes = -1, -1
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "syscr":
			reads = n
		case "syscw":
			writes = n
		}
	}
	if reads < 0 || writes < 0 {
		return -1, -1
	}
	return reads, writes
}

// cpuWindow holds the CPU times at the start of a measured window: this process's, and the
// standalone server's when the benchmark runs it.
type cpuWindow struct {
	e           *env
	proc0, srv0 time.Duration
	srvOK       bool
}

// cpuSpent is the CPU time used over a window; server is meaningful only when serverOK.
type cpuSpent struct {
	proc, server time.Duration
	serverOK     bool
}

// startCPU opens a window.
func (e *env) startCPU() cpuWindow {
	w := cpuWindow{e: e}
	w.srv0, w.srvOK = e.serverCPU()
	w.proc0 = cpuTime()
	return w
}

// spent returns the CPU time used since the window opened.
func (w cpuWindow) spent() cpuSpent {
	c := cpuSpent{proc: cpuTime() - w.proc0}
	if w.srvOK {
		if srv, ok := w.e.serverCPU(); ok {
			c.server, c.serverOK = srv-w.srv0, true
		}
	}
	return c
}

// serverCPU returns the CPU time the standalone server has used so far; not ok with
// -servers, where the benchmark does not run the server, or where /proc is missing.
func (e *env) serverCPU() (time.Duration, bool) {
	if e.server == nil {
		return 0, false
	}
	d, err := e.server.CPUTime()
	return d, err == nil
}
