// Package zktest runs real ZooKeeper servers for tests: a standalone server
// or an ensemble, each server a JVM listening only on 127.0.0.1, on free
// ports, in its own temporary directory, with its logs kept in that
// directory rather than on the test's output. It also provides Proxy, a TCP
// proxy that lets a test cut, stall or slow the traffic between a client
// and a server.
//
// The servers need java and ZooKeeper's jar (Debian's zookeeper package);
// without them the Start functions return an error wrapping
// ErrNotInstalled. Tests must fail rather than skip in that case: Main
// does so for a package that shares one server between its tests.
package zktest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Options configure the servers of a Cluster. The zero value is usable.
type Options struct {
	// TickTime is ZooKeeper's basic time unit. Default 200ms, low so that
	// short session timeouts are allowed.
	TickTime time.Duration
	// MinSessionTimeout and MaxSessionTimeout bound the session timeouts
	// the servers grant. Defaults: 2*TickTime and 60s.
	MinSessionTimeout, MaxSessionTimeout time.Duration
	// SuperDigest, when set, enables the digest super user. It has the
	// form "super:<base64 of sha1("super:<password>")>".
	SuperDigest string
	// JVMFlags are appended to the JVM's command line after the defaults,
	// which they therefore override (for example a larger -Xmx).
	JVMFlags []string
	// StartTimeout bounds how long starting a server, or an ensemble,
	// waits for it to serve. Default 30s.
	StartTimeout time.Duration
}

func (o Options) withDefaults() (Options, error) {
	if o.TickTime == 0 {
		o.TickTime = 200 * time.Millisecond
	}
	if o.MinSessionTimeout == 0 {
		o.MinSessionTimeout = 2 * o.TickTime
	}
	if o.MaxSessionTimeout == 0 {
		o.MaxSessionTimeout = 60 * time.Second
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 30 * time.Second
	}
	switch {
	case o.TickTime < time.Millisecond:
		return o, fmt.Errorf("zktest: TickTime %v is below 1ms", o.TickTime)
	case o.MinSessionTimeout < 0 || o.MaxSessionTimeout < o.MinSessionTimeout:
		return o, fmt.Errorf("zktest: session timeout bounds [%v, %v] are invalid", o.MinSessionTimeout, o.MaxSessionTimeout)
	case o.StartTimeout < 0:
		return o, fmt.Errorf("zktest: StartTimeout %v is negative", o.StartTimeout)
	}
	o.JVMFlags = append([]string(nil), o.JVMFlags...)
	return o, nil
}

// Cluster is a standalone server or an ensemble. Close it when done, which
// kills its processes and removes its files.
type Cluster struct {
	// Servers lists the members, Servers[i].ID == i+1. The slice must not
	// be modified.
	Servers []*Server

	root    string
	opts    Options
	once    sync.Once
	closeEr error
}

// StartStandalone starts one standalone server and returns once it serves.
// On error nothing is left running or on disk.
func StartStandalone(opts Options) (*Cluster, error) {
	c, err := newCluster(1, false, opts)
	if err != nil {
		return nil, err
	}
	if err := c.Servers[0].Start(); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	return c, nil
}

// StartEnsemble starts an ensemble of n servers (3 normally) and returns
// once a leader is elected and every member serves. On error nothing is
// left running or on disk.
func StartEnsemble(n int, opts Options) (*Cluster, error) {
	if n < 1 {
		return nil, fmt.Errorf("zktest: ensemble of %d servers", n)
	}
	c, err := newCluster(n, true, opts)
	if err != nil {
		return nil, err
	}
	// No member serves before a quorum runs: launch them all, then wait.
	for _, s := range c.Servers {
		if err := s.Launch(); err != nil {
			return nil, errors.Join(err, c.Close())
		}
	}
	if err := c.WaitServing(c.opts.StartTimeout); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	return c, nil
}

func newCluster(n int, ensemble bool, opts Options) (*Cluster, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := Installed(); err != nil {
		return nil, err
	}
	java, err := javaPath()
	if err != nil {
		return nil, err
	}
	perServer := 1
	if ensemble {
		perServer = 3
	}
	// All ports are picked at once so that they are distinct.
	ports, err := freePorts(n * perServer)
	if err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp("", "zktest-")
	if err != nil {
		return nil, fmt.Errorf("zktest: %w", err)
	}
	c := &Cluster{root: root, opts: opts}
	for i := range n {
		s := &Server{
			ID:         i + 1,
			ClientPort: ports[i*perServer],
			Dir:        filepath.Join(root, fmt.Sprintf("zk%d", i+1)),
			java:       java,
			opts:       opts,
		}
		if ensemble {
			s.PeerPort = ports[i*perServer+1]
			s.ElectionPort = ports[i*perServer+2]
		}
		c.Servers = append(c.Servers, s)
	}
	var members []*Server
	if ensemble {
		members = c.Servers
	}
	for _, s := range c.Servers {
		if err := s.writeFiles(members); err != nil {
			return nil, errors.Join(err, c.Close())
		}
	}
	return c, nil
}

// freePorts returns n distinct loopback ports that were free a moment ago.
// Another process may take one before a server binds it; the server then
// fails to start and its log says so.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("zktest: finding a free port: %w", err)
		}
		// Kept open until all are picked, so that none is picked twice.
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Addrs returns every member's client address, running or not, in ID
// order, as a client's server list.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		addrs[i] = s.Addr()
	}
	return addrs
}

// Leader returns the member that is leader, or the server of a standalone
// cluster if it serves. It returns an error, listing every member's mode,
// when no member currently leads (during an election, for example).
func (c *Cluster) Leader() (*Server, error) {
	modes := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		m := s.Mode()
		if m == "leader" || m == "standalone" {
			return s, nil
		}
		modes[i] = fmt.Sprintf("%d=%q", s.ID, m)
	}
	return nil, fmt.Errorf("zktest: no leader; modes: %s", strings.Join(modes, " "))
}

// Followers returns the members that are currently followers, in ID
// order.
func (c *Cluster) Followers() []*Server {
	var fs []*Server
	for _, s := range c.Servers {
		if s.Mode() == "follower" {
			fs = append(fs, s)
		}
	}
	return fs
}

// WaitServing waits until the cluster serves again: a leader (or the
// standalone server) exists and every running member that is not paused
// serves requests. It returns an error, quoting the members' log tails,
// after timeout.
func (c *Cluster) WaitServing(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		ready, status := c.servingStatus()
		if ready {
			return nil
		}
		if time.Now().After(deadline) {
			var tails strings.Builder
			for _, s := range c.Servers {
				tails.WriteString(s.logTail())
			}
			return fmt.Errorf("zktest: cluster not serving after %v: %s%s", timeout, status, tails.String())
		}
		<-ticker.C
	}
}

// servingStatus reports whether the cluster serves, and each member's
// state for error messages.
func (c *Cluster) servingStatus() (bool, string) {
	ready, leader := true, false
	states := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		var state string
		switch {
		case !s.Running():
			state = "stopped"
		case s.Paused():
			state = "paused"
		default:
			state = s.Mode()
			switch state {
			case "":
				state, ready = "not serving", false
			case "leader", "standalone":
				leader = true
			}
		}
		states[i] = fmt.Sprintf("%d=%s", s.ID, state)
	}
	return ready && leader, strings.Join(states, " ")
}

// Close kills every server, waits for the processes to exit and removes
// the cluster's temporary directory. It is idempotent: later calls return
// the first call's result.
func (c *Cluster) Close() error {
	c.once.Do(func() {
		var errs []error
		for _, s := range c.Servers {
			errs = append(errs, s.Kill())
		}
		if err := os.RemoveAll(c.root); err != nil {
			errs = append(errs, fmt.Errorf("zktest: %w", err))
		}
		c.closeEr = errors.Join(errs...)
	})
	return c.closeEr
}
