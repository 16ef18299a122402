package zkmirror_test

import (
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror"
)

// TestEventsDoNotWaitForTheEngine: go-zookeeper delivers watch events and replies on one
// goroutine; while the engine's lock is held elsewhere, a watch event must not hold up the
// replies behind it, and the path is still read once the lock is free.
func TestEventsDoNotWaitForTheEngine(t *testing.T) {
	ctx := ctxT(t, 60*time.Second)
	p := uniquePath(t)
	raw := rawClient(t)
	if _, err := raw.Create(p, []byte("a"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	m := connect(t)
	ch := mustNode(t, m, p).Watch(ctx)
	if v := recv(t, ch, 10*time.Second); string(v.Data) != "a" {
		t.Fatalf("first value %q, want a", v.Data)
	}

	release := zkmirror.HoldEngineLock(m)
	var once sync.Once
	unlock := func() { once.Do(release) }
	t.Cleanup(unlock)
	if _, err := raw.Set(p, []byte("b"), -1); err != nil {
		unlock()
		t.Fatal(err)
	}
	// The server sent the data watch's event before it answers a request made after the
	// Set returned: the reply comes after the event on the same connection.
	done := make(chan error, 1)
	go func() {
		_, _, err := zkmirror.ReadConn(m).Exists(p)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			unlock()
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		unlock()
		<-done
		t.Fatal("a reply waited behind a watch event for the engine's lock")
	}
	unlock()
	for v := recv(t, ch, 10*time.Second); string(v.Data) != "b"; v = recv(t, ch, 10*time.Second) {
	}
}
