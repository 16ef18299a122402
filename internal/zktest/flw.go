package zktest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// ErrNotServing is returned (wrapped) by Srvr when the server answers but
// is not serving client requests, typically an ensemble member that is
// still looking for a leader.
var ErrNotServing = errors.New("zktest: server is not serving requests")

// fourLetterTimeout bounds one four-letter-word exchange: connect, send and
// read until the server closes the connection. A paused server accepts the
// connection (the kernel does) but never answers, so this is also how long
// probing a paused server takes.
const fourLetterTimeout = time.Second

// Srvr is the parsed output of the `srvr` four-letter word.
type Srvr struct {
	Version    string  // "3.8.0-..., built on ..."
	LatencyMin int64   // milliseconds
	LatencyAvg float64 // milliseconds
	LatencyMax int64   // milliseconds
	Received   int64   // packets received
	Sent       int64   // packets sent
	// Connections counts open client connections, including the one that
	// asked for srvr.
	Connections int64
	Outstanding int64  // queued requests
	Zxid        int64  // last processed transaction id
	Mode        string // "standalone", "leader", "follower", "observer", "read-only"
	NodeCount   int64
}

// FourLetter sends the four-letter word cmd (for example "srvr", "wchs",
// "ruok", "mntr") to the server's client port and returns the raw answer.
// The whole exchange is bounded by a one-second deadline, so a stopped or
// paused server yields an error rather than a hang.
func (s *Server) FourLetter(cmd string) (string, error) {
	return fourLetter(s.Addr(), cmd, fourLetterTimeout)
}

func fourLetter(addr, cmd string, timeout time.Duration) (string, error) {
	if len(cmd) != 4 {
		return "", fmt.Errorf("zktest: four-letter word %q does not have four letters", cmd)
	}
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", fmt.Errorf("zktest: %s to %s: %w", cmd, addr, err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", fmt.Errorf("zktest: %s to %s: %w", cmd, addr, err)
	}
	if _, err := io.WriteString(conn, cmd); err != nil {
		return "", fmt.Errorf("zktest: %s to %s: %w", cmd, addr, err)
	}
	out, err := io.ReadAll(conn)
	if err != nil {
		return "", fmt.Errorf("zktest: %s to %s: %w", cmd, addr, err)
	}
	return string(out), nil
}

// Srvr runs `srvr` and parses its answer. It returns an error wrapping
// ErrNotServing when the server is up but not serving requests.
func (s *Server) Srvr() (Srvr, error) {
	out, err := s.FourLetter("srvr")
	if err != nil {
		return Srvr{}, err
	}
	st, err := ParseSrvr(out)
	if err != nil {
		return Srvr{}, fmt.Errorf("zktest: server %d (%s): %w", s.ID, s.Addr(), err)
	}
	return st, nil
}

// ParseSrvr parses the output of the `srvr` four-letter word as printed by
// ZooKeeper 3.5 to 3.9. Unknown lines are ignored; a known line whose value
// does not parse is an error. Output without a Mode line (the "not currently
// serving requests" answer) yields an error wrapping ErrNotServing.
func ParseSrvr(out string) (Srvr, error) {
	var st Srvr
	for _, line := range strings.Split(out, "\n") {
		key, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		var err error
		switch key {
		case "Zookeeper version":
			st.Version = val
		case "Latency min/avg/max":
			err = parseLatency(val, &st)
		case "Received":
			st.Received, err = strconv.ParseInt(val, 10, 64)
		case "Sent":
			st.Sent, err = strconv.ParseInt(val, 10, 64)
		case "Connections":
			st.Connections, err = strconv.ParseInt(val, 10, 64)
		case "Outstanding":
			st.Outstanding, err = strconv.ParseInt(val, 10, 64)
		case "Zxid":
			var z uint64
			// Java prints the zxid with Long.toHexString: unsigned, "0x" prefixed.
			z, err = strconv.ParseUint(val, 0, 64)
			st.Zxid = int64(z)
		case "Mode":
			st.Mode = val
		case "Node count":
			st.NodeCount, err = strconv.ParseInt(val, 10, 64)
		}
		if err != nil {
			return Srvr{}, fmt.Errorf("zktest: srvr line %q: %w", line, err)
		}
	}
	if st.Mode == "" {
		return Srvr{}, fmt.Errorf("%w: srvr answered %q", ErrNotServing, strings.TrimSpace(out))
	}
	return st, nil
}

func parseLatency(val string, st *Srvr) error {
	parts := strings.Split(val, "/")
	if len(parts) != 3 {
		return fmt.Errorf("want min/avg/max, got %q", val)
	}
	var err error
	if st.LatencyMin, err = strconv.ParseInt(parts[0], 10, 64); err != nil {
		return err
	}
	if st.LatencyAvg, err = strconv.ParseFloat(parts[1], 64); err != nil {
		return err
	}
	if st.LatencyMax, err = strconv.ParseInt(parts[2], 10, 64); err != nil {
		return err
	}
	return nil
}

// WatchCount returns the number of watches the server holds, summed over
// all sessions and paths, from the "Total watches:N" line of `wchs`.
func (s *Server) WatchCount() (int, error) {
	out, err := s.FourLetter("wchs")
	if err != nil {
		return 0, err
	}
	n, err := parseWatchCount(out)
	if err != nil {
		return 0, fmt.Errorf("zktest: server %d (%s): %w", s.ID, s.Addr(), err)
	}
	return n, nil
}

func parseWatchCount(out string) (int, error) {
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Total watches:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return 0, fmt.Errorf("wchs line %q: %w", line, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("wchs answer has no \"Total watches:\" line: %q", strings.TrimSpace(out))
}

// Mode returns the server's role as reported by `srvr`: "standalone",
// "leader", "follower" (or "observer"), or "" when the server is not
// running, paused, unreachable or not serving requests.
func (s *Server) Mode() string {
	if !s.Running() || s.Paused() {
		return ""
	}
	st, err := s.Srvr()
	if err != nil {
		return ""
	}
	return st.Mode
}
