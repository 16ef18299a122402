package zktest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// stopGrace is how long Stop lets the JVM shut down after SIGTERM
	// before it sends SIGKILL.
	stopGrace = 5 * time.Second
	// pollInterval paces the srvr probes of WaitServing.
	pollInterval = 50 * time.Millisecond
	// logTailBytes is how much of each log file an error message quotes.
	logTailBytes = 3000

	logFile     = "zookeeper.log" // written by log4j, WARN and above
	consoleFile = "zookeeper.out" // the JVM's stdout and stderr
	configFile  = "zoo.cfg"
)

// Server is one ZooKeeper server process of a Cluster. Its exported fields
// describe it and must not be modified. Its methods are safe for concurrent
// use; Start, Launch, Stop and Kill are serialized.
type Server struct {
	// ID is the server's 1-based position in its cluster, and its myid in
	// an ensemble.
	ID int
	// ClientPort is the loopback port clients connect to. It survives
	// restarts.
	ClientPort int
	// PeerPort and ElectionPort are the quorum ports of an ensemble
	// member; both are 0 for a standalone server.
	PeerPort, ElectionPort int
	// Dir holds everything the server owns: zoo.cfg, conf/ (its log4j
	// configuration), data/ (snapshots, transaction logs, myid),
	// zookeeper.log (the server's log) and zookeeper.out (the JVM's
	// stdout and stderr). It survives restarts and is removed by
	// Cluster.Close.
	Dir string

	java string
	opts Options

	lifeMu sync.Mutex // serializes Launch, Start, Stop and Kill

	mu     sync.Mutex // guards proc and paused
	proc   *process   // nil before the first Launch and after Stop or Kill
	paused bool
}

// process is one run of the server JVM. A goroutine owned by the Server
// reaps it: it calls cmd.Wait, records the result and closes done. Stop,
// Kill and Cluster.Close make the process exit and then receive from done,
// which joins that goroutine.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // cmd.Wait's result; read only after done is closed
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Addr returns the client address, "127.0.0.1:<ClientPort>".
func (s *Server) Addr() string {
	return "127.0.0.1:" + strconv.Itoa(s.ClientPort)
}

// Running reports whether the server process is alive (paused included).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil && !s.proc.exited()
}

// Paused reports whether the server process is alive and stopped by Pause.
func (s *Server) Paused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil && !s.proc.exited() && s.paused
}

// Start starts the server process, with the same ports and data directory
// as before when it is a restart, and returns once the server serves
// requests: srvr reports a Mode (for an ensemble member, leader, follower
// or observer, which requires a quorum of running members). If the server
// does not serve within Options.StartTimeout (30s by default), or its
// process exits, Start kills it and returns an error quoting the tail of
// its logs. Starting a running server is an error.
func (s *Server) Start() error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if err := s.launchLocked(); err != nil {
		return err
	}
	if err := s.WaitServing(s.opts.StartTimeout); err != nil {
		if kerr := s.killLocked(); kerr != nil {
			return errors.Join(err, kerr)
		}
		return err
	}
	return nil
}

// Launch starts the server process like Start but returns without waiting
// for it to serve. Use it to start a member that cannot serve on its own,
// for example one of several members of an ensemble that has lost its
// quorum, then wait with WaitServing or Cluster.WaitServing.
func (s *Server) Launch() error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	return s.launchLocked()
}

func (s *Server) launchLocked() error {
	s.mu.Lock()
	running := s.proc != nil && !s.proc.exited()
	s.mu.Unlock()
	if running {
		return fmt.Errorf("zktest: server %d (%s) is already running", s.ID, s.Addr())
	}

	out, err := os.OpenFile(filepath.Join(s.Dir, consoleFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("zktest: server %d: %w", s.ID, err)
	}
	cmd := exec.Command(s.java, s.jvmArgs()...)
	cmd.Dir = s.Dir
	cmd.Stdout = out // an *os.File: the child writes to it directly, no copying goroutine
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Start()
	// The child holds its own descriptor; the parent's copy is not needed.
	out.Close()
	if err != nil {
		return fmt.Errorf("zktest: server %d: starting %s: %w", s.ID, s.java, err)
	}

	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()

	s.mu.Lock()
	s.proc = p
	s.paused = false
	s.mu.Unlock()
	return nil
}

// WaitServing waits until the running server serves requests (srvr
// reports a Mode). It fails early if the process is not running or exits,
// and after timeout otherwise; errors quote the tail of the server's logs.
func (s *Server) WaitServing(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		p := s.current()
		if p == nil {
			return fmt.Errorf("zktest: server %d (%s) is not running", s.ID, s.Addr())
		}
		if p.exited() {
			return fmt.Errorf("zktest: server %d (%s) exited: %v%s", s.ID, s.Addr(), p.err, s.logTail())
		}
		_, probeErr := s.Srvr()
		if probeErr == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("zktest: server %d (%s) not serving after %v: %w%s", s.ID, s.Addr(), timeout, probeErr, s.logTail())
		}
		select {
		case <-ticker.C:
		case <-p.done:
		}
	}
}

// Stop sends SIGTERM (and SIGCONT, so that a paused server can act on it),
// waits for the process to exit, and sends SIGKILL if it has not exited
// after 5 seconds. Stopping a server that is not running is a no-op.
func (s *Server) Stop() error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	p := s.current()
	if p == nil {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("zktest: server %d: SIGTERM: %w", s.ID, err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("zktest: server %d: SIGCONT: %w", s.ID, err)
	}
	grace := time.NewTimer(stopGrace)
	defer grace.Stop()
	select {
	case <-p.done:
		s.forget(p)
		return nil
	case <-grace.C:
		return s.killLocked()
	}
}

// Kill sends SIGKILL and waits for the process to exit. Killing a server
// that is not running is a no-op.
func (s *Server) Kill() error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	return s.killLocked()
}

func (s *Server) killLocked() error {
	p := s.current()
	if p == nil {
		return nil
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("zktest: server %d: SIGKILL: %w", s.ID, err)
	}
	<-p.done
	s.forget(p)
	return nil
}

// Pause stops the process with SIGSTOP: it keeps its sockets, so clients
// stay connected but get no answers, and peers see it as unresponsive
// rather than gone. It returns once the kernel reports the process stopped.
func (s *Server) Pause() error {
	return s.signalRunning(syscall.SIGSTOP, true)
}

// Resume continues a paused process with SIGCONT.
func (s *Server) Resume() error {
	return s.signalRunning(syscall.SIGCONT, false)
}

func (s *Server) signalRunning(sig syscall.Signal, pause bool) error {
	p := s.current()
	if p == nil || p.exited() {
		return fmt.Errorf("zktest: server %d (%s) is not running", s.ID, s.Addr())
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("zktest: server %d: %v: %w", s.ID, sig, err)
	}
	if pause {
		if err := waitStopped(p.cmd.Process.Pid, time.Second); err != nil {
			return fmt.Errorf("zktest: server %d: %w", s.ID, err)
		}
	}
	s.mu.Lock()
	if s.proc == p {
		s.paused = pause
	}
	s.mu.Unlock()
	return nil
}

// current returns the live or exited-but-not-forgotten process, or nil.
func (s *Server) current() *process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

// forget clears p once it has been reaped, unless a newer process
// replaced it.
func (s *Server) forget(p *process) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == p {
		s.proc = nil
		s.paused = false
	}
}

func (s *Server) confDir() string { return filepath.Join(s.Dir, "conf") }
func (s *Server) dataDir() string { return filepath.Join(s.Dir, "data") }

func (s *Server) jvmArgs() []string {
	args := []string{
		// Small and quick to start: the machines running the tests are
		// small and the servers hold little data.
		"-Xms32m",
		"-Xmx256m",
		"-XX:+UseSerialGC",
		"-XX:TieredStopAtLevel=1",
		"-XX:-UsePerfData",
		"-Djava.awt.headless=true",
		"-Dzookeeper.extendedTypesEnabled=true", // TTL nodes
		"-Dzookeeper.jmx.log4j.disable=true",
		"-Dlog4j.configuration=file:" + filepath.Join(s.confDir(), "log4j.properties"),
	}
	if s.opts.SuperDigest != "" {
		args = append(args, "-Dzookeeper.DigestAuthenticationProvider.superDigest="+s.opts.SuperDigest)
	}
	// Extra flags come last so that they override the defaults above.
	args = append(args, s.opts.JVMFlags...)
	return append(args, "-cp", classpath(s.confDir()), mainClass, filepath.Join(s.Dir, configFile))
}

// writeFiles creates the server's directories and configuration. members
// lists every server of an ensemble; it is nil for a standalone server.
func (s *Server) writeFiles(members []*Server) error {
	for _, d := range []string{s.confDir(), s.dataDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("zktest: %w", err)
		}
	}
	o := s.opts
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "tickTime=%d\n", o.TickTime.Milliseconds())
	fmt.Fprintf(&cfg, "dataDir=%s\n", s.dataDir())
	fmt.Fprintf(&cfg, "clientPort=%d\n", s.ClientPort)
	cfg.WriteString("clientPortAddress=127.0.0.1\n")
	cfg.WriteString("admin.enableServer=false\n")
	cfg.WriteString("4lw.commands.whitelist=*\n")
	fmt.Fprintf(&cfg, "minSessionTimeout=%d\n", o.MinSessionTimeout.Milliseconds())
	fmt.Fprintf(&cfg, "maxSessionTimeout=%d\n", o.MaxSessionTimeout.Milliseconds())
	// Test data is disposable: skip fsync on every transaction.
	cfg.WriteString("forceSync=no\n")
	if members != nil {
		// In ticks: 2s to connect and sync with a leader, 1s of silence
		// before a follower gives up on it.
		cfg.WriteString("initLimit=10\n")
		cfg.WriteString("syncLimit=5\n")
		for _, m := range members {
			fmt.Fprintf(&cfg, "server.%d=127.0.0.1:%d:%d\n", m.ID, m.PeerPort, m.ElectionPort)
		}
		if err := os.WriteFile(filepath.Join(s.dataDir(), "myid"), []byte(strconv.Itoa(s.ID)+"\n"), 0o644); err != nil {
			return fmt.Errorf("zktest: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(s.Dir, configFile), []byte(cfg.String()), 0o644); err != nil {
		return fmt.Errorf("zktest: %w", err)
	}

	log4j := "log4j.rootLogger=WARN, FILE\n" +
		"log4j.appender.FILE=org.apache.log4j.FileAppender\n" +
		"log4j.appender.FILE.File=" + filepath.Join(s.Dir, logFile) + "\n" +
		"log4j.appender.FILE.Append=true\n" +
		"log4j.appender.FILE.layout=org.apache.log4j.PatternLayout\n" +
		"log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n\n"
	if err := os.WriteFile(filepath.Join(s.confDir(), "log4j.properties"), []byte(log4j), 0o644); err != nil {
		return fmt.Errorf("zktest: %w", err)
	}
	return nil
}

// logTail returns the ends of the server's log and console files, formatted
// to be appended to an error message.
func (s *Server) logTail() string {
	var b strings.Builder
	for _, name := range []string{logFile, consoleFile} {
		path := filepath.Join(s.Dir, name)
		tail, err := readTail(path, logTailBytes)
		if err != nil || strings.TrimSpace(tail) == "" {
			continue
		}
		fmt.Fprintf(&b, "\n--- tail of %s ---\n%s", path, strings.TrimRight(tail, "\n"))
	}
	return b.String()
}

func readTail(path string, n int64) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	off := fi.Size() - n
	if off < 0 {
		off = 0
	}
	b, err := io.ReadAll(io.NewSectionReader(f, off, n))
	if err != nil {
		return "", err
	}
	if off > 0 {
		// Start at a line boundary.
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b), nil
}

// CPUTime returns the CPU time, user and system, the running server process has used since it
// started (from /proc/<pid>/stat). It fails when the server is not running or the figure is
// not available (no /proc).
func (s *Server) CPUTime() (time.Duration, error) {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil || p.exited() {
		return 0, fmt.Errorf("zktest: server %d is not running", s.ID)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("zktest: server %d: %w", s.ID, err)
	}
	return parseProcStatCPU(b)
}

// clockTicks is the unit of /proc/<pid>/stat's times (USER_HZ, 100 on Linux).
const clockTicks = 100

// procStatFields returns the fields of a /proc/<pid>/stat line that follow the command,
// starting with field 3 (the state). The command, field 2, is in parentheses and may hold
// spaces and parentheses, so the fields are counted from the last ')'.
func procStatFields(b []byte) ([]string, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("zktest: unreadable /proc stat line %q", b)
	}
	return strings.Fields(string(b[i+1:])), nil
}

// parseProcStatCPU reads utime and stime, fields 14 and 15, from a /proc/<pid>/stat line.
func parseProcStatCPU(b []byte) (time.Duration, error) {
	f, err := procStatFields(b)
	if err != nil {
		return 0, err
	}
	// f[0] is field 3: utime is field 14, f[11]; stime f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("zktest: short /proc stat line %q", b)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("zktest: unreadable /proc stat line %q: %w", b, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}
