package main

import (
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
