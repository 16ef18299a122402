package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// dialer opens the Mirror's connections once released, and remembers how the last attempt
// at each address went, so that a command that got no answer can say why. With a log, it
// shows each failed attempt whose error differs from the last one at that address.
type dialer struct {
	log         io.Writer // nil: quiet
	released    chan struct{}
	releaseOnce sync.Once
	ctx         context.Context // ended by stop: no more dials
	cancel      context.CancelFunc

	mu     sync.Mutex
	last   map[string]error // address → the last attempt's error, nil after a success
	recent error            // the last attempt's error, at any address
}

func newDialer(log io.Writer) *dialer {
	ctx, cancel := context.WithCancel(context.Background())
	return &dialer{log: log, released: make(chan struct{}), ctx: ctx, cancel: cancel, last: make(map[string]error)}
}

// release lets dials through.
func (d *dialer) release() { d.releaseOnce.Do(func() { close(d.released) }) }

// stop makes every dial, waiting or in progress, fail.
func (d *dialer) stop() { d.cancel() }

// dial has go-zookeeper's Dialer shape.
func (d *dialer) dial(network, address string, timeout time.Duration) (net.Conn, error) {
	select {
	case <-d.released:
	case <-d.ctx.Done():
		return nil, net.ErrClosed
	}
	nd := net.Dialer{Timeout: timeout}
	conn, err := nd.DialContext(d.ctx, network, address)
	if d.ctx.Err() == nil {
		d.mu.Lock()
		prev, seen := d.last[address]
		d.last[address] = err
		d.recent = err
		d.mu.Unlock()
		if err != nil && d.log != nil && (!seen || prev == nil || prev.Error() != err.Error()) {
			fmt.Fprintf(d.log, "zkmirror: %v; retrying\n", err)
		}
	}
	return conn, err
}

// noAnswer is the error for no session within timeout: every server refused the
// connection, or none answered (with the last dial error, if any).
func (d *dialer) noAnswer(servers []string, timeout time.Duration) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var refused []string
	for addr, err := range d.last {
		if errors.Is(err, syscall.ECONNREFUSED) {
			refused = append(refused, addr)
		}
	}
	slices.Sort(refused)
	if len(refused) > 0 && len(refused) == len(d.last) {
		return fmt.Errorf("connection refused by %s (retried for %v; is ZooKeeper running there?)", strings.Join(refused, ", "), timeout)
	}
	msg := fmt.Sprintf("no ZooKeeper server answered at %s within %v", strings.Join(servers, ","), timeout)
	if d.recent != nil {
		msg += fmt.Sprintf(" (last attempt: %v)", d.recent)
	}
	return errors.New(msg)
}
