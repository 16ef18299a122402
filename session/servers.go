package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// DefaultPort is the port used for a server given without one.
const DefaultPort = 2181

// ErrBadServer is returned (wrapped) for a server address that cannot be parsed or resolved.
var ErrBadServer = errors.New("bad server address")

// ParseServer splits one server address into host and port. It accepts "host:port", "host"
// (port 2181), "[v6]:port", "[v6]" and a bare IPv6 literal such as "::1".
func ParseServer(s string) (host string, port int, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", 0, fmt.Errorf("%w \"\": empty", ErrBadServer)
	}
	// A bare IPv6 literal has more than one colon and no brackets.
	if !strings.HasPrefix(s, "[") && strings.Count(s, ":") > 1 {
		if ip, perr := netip.ParseAddr(s); perr == nil {
			return ip.String(), DefaultPort, nil
		}
		return "", 0, fmt.Errorf("%w %q: IPv6 addresses with a port need brackets, as in [::1]:2181", ErrBadServer, s)
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		inner := s[1 : len(s)-1]
		if _, perr := netip.ParseAddr(inner); perr != nil {
			return "", 0, fmt.Errorf("%w %q: %w", ErrBadServer, s, perr)
		}
		return inner, DefaultPort, nil
	}
	if !strings.Contains(s, ":") {
		return s, DefaultPort, nil
	}
	h, p, serr := net.SplitHostPort(s)
	if serr != nil {
		return "", 0, fmt.Errorf("%w %q: %w", ErrBadServer, s, serr)
	}
	if h == "" {
		return "", 0, fmt.Errorf("%w %q: empty host", ErrBadServer, s)
	}
	if strings.HasPrefix(s, "[") {
		if _, perr := netip.ParseAddr(h); perr != nil {
			return "", 0, fmt.Errorf("%w %q: brackets hold an IPv6 address: %w", ErrBadServer, s, perr)
		}
	}
	n, perr := strconv.Atoi(p)
	if perr != nil || n <= 0 || n > 65535 {
		return "", 0, fmt.Errorf("%w %q: bad port", ErrBadServer, s)
	}
	return h, n, nil
}

// Resolve parses every server address and resolves host names to IP addresses, once, up
// front. Any address that cannot be parsed or resolved fails the whole call: a typo in a
// server list is reported at once rather than retried forever. The result lists "ip:port"
// strings with duplicates removed, in the order given.
func Resolve(ctx context.Context, servers []string) ([]string, error) {
	if len(servers) == 0 {
		return nil, fmt.Errorf("%w: no servers given", ErrBadServer)
	}
	var out []string
	seen := make(map[string]bool)
	add := func(ip string, port int) {
		a := net.JoinHostPort(ip, strconv.Itoa(port))
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	for _, s := range servers {
		host, port, err := ParseServer(s)
		if err != nil {
			return nil, err
		}
		if ip, perr := netip.ParseAddr(host); perr == nil {
			add(ip.String(), port)
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ips, lerr := net.DefaultResolver.LookupHost(lctx, host)
		cancel()
		if lerr != nil {
			return nil, fmt.Errorf("%w %q: %w", ErrBadServer, s, lerr)
		}
		for _, ip := range ips {
			add(ip, port)
		}
	}
	return out, nil
}
