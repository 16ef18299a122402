package session

import (
	"context"
	"errors"
	"testing"

	"github.com/zkmirror/zkmirror/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

func TestParseServer(t *testing.T) {
	for in, want := range map[string]struct {
		host string
		port int
	}{
		"zk1:2182":          {"zk1", 2182},
		"zk1":               {"zk1", 2181},
		"127.0.0.1":         {"127.0.0.1", 2181},
		"[::1]:2183":        {"::1", 2183},
		"[::1]":             {"::1", 2181},
		"::1":               {"::1", 2181},
		"fe80::1":           {"fe80::1", 2181},
		" 10.0.0.1:2181 ":   {"10.0.0.1", 2181},
		"[2001:db8::7]:999": {"2001:db8::7", 999},
	} {
		h, p, err := ParseServer(in)
		if err != nil || h != want.host || p != want.port {
			t.Errorf("ParseServer(%q) = %q %d %v, want %q %d", in, h, p, err, want.host, want.port)
		}
	}
	for _, bad := range []string{"", "host:", ":2181", "host:0", "host:70000", "host:x", "[::1", "[nothost]:1", "1::2::3:4"} {
		if _, _, err := ParseServer(bad); !errors.Is(err, ErrBadServer) {
			t.Errorf("ParseServer(%q): %v", bad, err)
		}
	}
}

func TestResolve(t *testing.T) {
	got, err := Resolve(context.Background(), []string{"127.0.0.1:1", "127.0.0.1:1", "[::1]:2", "localhost:3"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != "127.0.0.1:1" || got[1] != "[::1]:2" || len(got) < 3 {
		t.Fatalf("%v", got)
	}
	if _, err := Resolve(context.Background(), []string{"127.0.0.1:1", "no-such-host.invalid"}); !errors.Is(err, ErrBadServer) {
		t.Fatalf("one bad name fails the call: %v", err)
	}
	if _, err := Resolve(context.Background(), nil); !errors.Is(err, ErrBadServer) {
		t.Fatal("empty list")
	}
}

func TestStateString(t *testing.T) {
	if StateLost.String() != "Lost" || State(99).String() != "State(99)" || State(-3).String() != "State(-3)" {
		t.Fatal(StateLost.String(), State(99).String())
	}
}

func TestHostProviderBacksOffAndQuits(t *testing.T) {
	quit := make(chan struct{})
	h := &hostProvider{quit: quit, addrs: []string{"a", "b"}}
	seen := map[string]bool{}
	for range 4 {
		addr, retry := h.Next()
		if retry {
			t.Fatal("retryStart before close")
		}
		seen[addr] = true
	}
	if !seen["a"] || !seen["b"] {
		t.Fatal(seen)
	}
	close(quit)
	if _, retry := h.Next(); !retry {
		t.Fatal("after close Next must report retryStart so go-zookeeper sees its quit signal")
	}
}
