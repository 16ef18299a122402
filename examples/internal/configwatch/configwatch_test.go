package configwatch_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/examples/internal/configwatch"
	"github.com/zkmirror/zkmirror/internal/progtest"
	"github.com/zkmirror/zkmirror/internal/zktest"
	"github.com/zkmirror/zkmirror/leaktest"
)

var zkc *zktest.Cluster

func TestMain(m *testing.M) {
	zktest.Main(m, zktest.Options{}, func(c *zktest.Cluster) { zkc = c })
}

func TestUpdateString(t *testing.T) {
	cases := []struct {
		u    configwatch.Update
		want string
	}{
		{configwatch.Update{Exists: true, Version: 3, Config: configwatch.Config{Greeting: "hi", Workers: 2}},
			"config: {Greeting:hi Workers:2 Debug:false} version 3"},
		{configwatch.Update{}, "config: missing"},
		{configwatch.Update{Resync: true}, "config: missing (resync)"},
		{configwatch.Update{Exists: true, Version: 1, Resync: true},
			"config: {Greeting: Workers:0 Debug:false} version 1 (resync)"},
		{configwatch.Update{Exists: true, Version: 4, Err: errors.New("bad")}, "config: invalid (version 4): bad"},
		{configwatch.Update{Err: errors.New("no auth")}, "config: unreadable: no auth"},
	}
	for _, c := range cases {
		if got := c.u.String(); got != c.want {
			t.Errorf("%#v: got %q, want %q", c.u, got, c.want)
		}
	}
}

// watch runs configwatch.Watch on m until the test stops it, sending each update to the
// returned channel.
func watch(t *testing.T, m *zkmirror.Mirror, path string, quiet time.Duration) (<-chan configwatch.Update, func() error) {
	updates := make(chan configwatch.Update, 100)
	stop := progtest.Start(t, func(ctx context.Context) error {
		return configwatch.Watch(ctx, m, path, quiet, func(u configwatch.Update) {
			select {
			case updates <- u:
			case <-ctx.Done():
			}
		})
	})
	return updates, stop
}

func next(t *testing.T, updates <-chan configwatch.Update) configwatch.Update {
	t.Helper()
	select {
	case u := <-updates:
		return u
	case <-time.After(15 * time.Second):
		t.Fatal("no update within 15s")
		return configwatch.Update{}
	}
}

func connect(t *testing.T, addrs []string, opts ...zkmirror.Option) *zkmirror.Mirror {
	t.Helper()
	m, err := zkmirror.Connect(addrs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestWatchLifecycle(t *testing.T) {
	leaktest.Check(t)
	p := progtest.UniquePath(t)
	raw := progtest.RawClient(t, zkc.Addrs())
	m := connect(t, zkc.Addrs())
	updates, stop := watch(t, m, p, 100*time.Millisecond)

	if u := next(t, updates); u.Exists || u.Err != nil || u.String() != "config: missing" {
		t.Fatalf("first update: %+v", u)
	}
	progtest.CreateAll(t, raw, p, []byte(`{"greeting":"hello","workers":2}`))
	if u := next(t, updates); !u.Exists || u.Version != 0 || u.Config != (configwatch.Config{Greeting: "hello", Workers: 2}) {
		t.Fatalf("after create: %+v", u)
	}

	// A burst of writes closer together than the debounce period gives one update: the last.
	for i := range 5 {
		if _, err := raw.Set(p, fmt.Appendf(nil, `{"greeting":"hello","workers":%d}`, 3+i), -1); err != nil {
			t.Fatal(err)
		}
	}
	u := next(t, updates)
	if u.Version != 5 || u.Config.Workers != 7 {
		t.Fatalf("after a burst of 5 sets: %+v", u)
	}
	select {
	case u := <-updates:
		t.Fatalf("the burst gave a second update: %+v", u)
	case <-time.After(300 * time.Millisecond):
	}

	if _, err := raw.Set(p, []byte(`{"workers": "many"}`), -1); err != nil {
		t.Fatal(err)
	}
	if u := next(t, updates); u.Err == nil || !u.Exists || u.Version != 6 {
		t.Fatalf("invalid JSON: %+v", u)
	}
	if err := raw.Delete(p, -1); err != nil {
		t.Fatal(err)
	}
	if u := next(t, updates); u.Exists || u.Err != nil {
		t.Fatalf("after delete: %+v", u)
	}
	progtest.CreateAll(t, raw, p, []byte(`{"debug":true}`))
	if u := next(t, updates); !u.Exists || u.Version != 0 || !u.Config.Debug {
		t.Fatalf("after re-create: %+v", u)
	}
	if err := stop(); err != nil {
		t.Fatalf("Watch returned %v after its ctx ended, want nil", err)
	}
}

func TestWatchWithoutDebounce(t *testing.T) {
	leaktest.Check(t)
	p := progtest.UniquePath(t)
	raw := progtest.RawClient(t, zkc.Addrs())
	progtest.CreateAll(t, raw, p, []byte(`{"workers":1}`))
	m := connect(t, zkc.Addrs())
	updates, stop := watch(t, m, p, 0)
	if u := next(t, updates); u.Config.Workers != 1 {
		t.Fatalf("%+v", u)
	}
	if _, err := raw.Set(p, []byte(`{"workers":2}`), -1); err != nil {
		t.Fatal(err)
	}
	if u := next(t, updates); u.Config.Workers != 2 || u.Version != 1 {
		t.Fatalf("%+v", u)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestWatchEndsWhenMirrorCloses(t *testing.T) {
	leaktest.Check(t)
	m := connect(t, zkc.Addrs())
	first := make(chan struct{})
	done := make(chan error, 1)
	var once sync.Once
	go func() {
		done <- configwatch.Watch(context.Background(), m, progtest.UniquePath(t), 0, func(configwatch.Update) {
			once.Do(func() { close(first) })
		})
	}()
	select {
	case <-first:
	case <-time.After(15 * time.Second):
		t.Fatal("no update within 15s")
	}
	m.Close()
	select {
	case err := <-done:
		if !errors.Is(err, zkmirror.ErrClosed) {
			t.Fatalf("Watch after the Mirror closed: %v, want ErrClosed", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Watch did not return after the Mirror closed")
	}
}

func TestWatchInvalidPath(t *testing.T) {
	leaktest.Check(t)
	m := connect(t, zkc.Addrs())
	err := configwatch.Watch(context.Background(), m, "no-slash", 0, func(configwatch.Update) {})
	if !errors.Is(err, zkmirror.ErrInvalidPath) {
		t.Fatalf("got %v, want ErrInvalidPath", err)
	}
}

// TestWatchShowsResync expires the mirror's session (its connection is blackholed for longer
// than the session timeout) and checks that the state re-read afterwards is reported as a
// resync.
func TestWatchShowsResync(t *testing.T) {
	leaktest.Check(t)
	p := progtest.UniquePath(t)
	raw := progtest.RawClient(t, zkc.Addrs())
	progtest.CreateAll(t, raw, p, []byte(`{"workers":1}`))
	proxy, err := zktest.NewProxy(zkc.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	m := connect(t, []string{proxy.Addr()}, zkmirror.WithSessionTimeout(time.Second), zkmirror.WithResyncJitter(0))
	updates, stop := watch(t, m, p, 50*time.Millisecond)
	if u := next(t, updates); u.Config.Workers != 1 || u.Resync {
		t.Fatalf("%+v", u)
	}
	proxy.Blackhole(0)
	proxy.Cut()
	time.Sleep(3 * time.Second) // the server expires the session meanwhile
	proxy.Restore()
	u := next(t, updates)
	if !u.Resync || u.Config.Workers != 1 || !u.Exists {
		t.Fatalf("after the session expired: %+v", u)
	}
	if want := "config: {Greeting: Workers:1 Debug:false} version 0 (resync)"; u.String() != want {
		t.Fatalf("got %q, want %q", u.String(), want)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
