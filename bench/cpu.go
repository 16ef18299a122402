package main

import (
	"errors"
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

// serverCPU returns the CPU time the standalone server has used so far; it fails with
// -servers, where the benchmark does not run the server.
func (e *env) serverCPU() (time.Duration, error) {
	if e.server == nil {
		return 0, errors.New("the server is not the benchmark's")
	}
	return e.server.CPUTime()
}
