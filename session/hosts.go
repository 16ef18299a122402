package session

import (
	"math/rand/v2"
	"sync"
	"time"
)

// hostProvider hands go-zookeeper the resolved addresses in turn. Unlike zk's
// DNSHostProvider it never resolves again, accepts IPv6 addresses and, instead of a fixed
// one-second sleep when the list wraps around, backs off exponentially with jitter, starting
// small, and stops waiting the moment the session closes.
type hostProvider struct {
	quit <-chan struct{}

	mu       sync.Mutex // guards the fields below
	addrs    []string
	next     int
	failures int // addresses tried since the last successful handshake
	cycles   int // full passes over the list since the last successful handshake
}

const (
	backoffMin = 50 * time.Millisecond
	backoffMax = 2 * time.Second
)

func (h *hostProvider) Init([]string) error { return nil }

func (h *hostProvider) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.addrs)
}

// Next returns the next address. It reports retryStart only once the session is closing, so
// that go-zookeeper's connect loop notices its quit signal; otherwise it waits out the backoff
// itself.
func (h *hostProvider) Next() (string, bool) {
	h.mu.Lock()
	addr := h.addrs[h.next]
	h.next = (h.next + 1) % len(h.addrs)
	h.failures++
	var wait time.Duration
	if h.failures > len(h.addrs) {
		h.failures = 1
		h.cycles++
		wait = backoffMin << min(h.cycles-1, 6)
		wait = min(wait, backoffMax)
		wait = wait/2 + rand.N(wait/2+1)
	}
	h.mu.Unlock()

	select {
	case <-h.quit:
		return addr, true
	default:
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-h.quit:
			return addr, true
		}
	}
	return addr, false
}

// Connected is called after a successful handshake; the next server tried after a later
// failure is the one after this one, so a flapping server is not hammered.
func (h *hostProvider) Connected() {
	h.mu.Lock()
	h.failures = 0
	h.cycles = 0
	h.mu.Unlock()
}
