package zkmirror_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/leaktest"
)

// TestReconnectsAreRaceFree: a Mirror holding 50 nodes' watches, a Tree and a credential
// reconnects 250 times through a proxy that cuts its connection — idle first, then with
// writes and reads in flight, some outages long enough for requests to queue, and other
// Mirrors closed within a few milliseconds of their own reconnect. make test runs it under
// -race, where any data race (go-zookeeper's included) fails the run; leaktest fails it for
// any goroutine left behind, and at the end every node equals the server.
func TestReconnectsAreRaceFree(t *testing.T) {
	leaktest.Check(t)
	const (
		nodes     = 50
		idleCuts  = 100
		busyCuts  = 150
		closeNear = 10 // every closeNear-th cut, another Mirror is closed around its reconnect
	)
	p := newProxy(t, zkc.Addrs()[0])
	dead := deadPort(t)
	raw := rawClient(t)
	root := uniquePath(t)
	if _, err := raw.Create(root, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	for i := range nodes {
		if _, err := raw.Create(root+"/n"+strconv.Itoa(i), []byte("0"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}

	auth := zkmirror.WithAuth("digest", []byte("reconnect:secret"))
	m := connectTo(t, []string{p.Addr()}, auth, zkmirror.WithSessionTimeout(10*time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	var connected atomic.Int64
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	states := m.States(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for st := range states {
			if st == zkmirror.StateConnected {
				connected.Add(1)
			}
		}
	}()
	handles := make([]*zkmirror.Node, nodes)
	for i := range handles {
		handles[i] = mustNode(t, m, root+"/n"+strconv.Itoa(i))
		wg.Add(1)
		go func(ch <-chan zkmirror.Value) { // a reader per node, as users have
			defer wg.Done()
			for range ch {
			}
		}(handles[i].Watch(ctx))
	}
	tree := syncedTree(t, m, root)
	waitConnected := func(after int64) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for connected.Load() <= after {
			if time.Now().After(deadline) {
				t.Fatalf("no reconnect within 20s (%d so far)", connected.Load())
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	waitConnected(0)

	// closeAround starts another Mirror through the proxy, lets it mirror a node, and closes it
	// a few milliseconds after the cut that makes it reconnect.
	closeAround := func(cut func()) {
		other, err := zkmirror.Connect([]string{p.Addr()}, auth)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		n, err := other.Node(root + "/n0")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.Value(ctxT(t, 20*time.Second)); err != nil {
			t.Fatalf("other mirror: %v", err)
		}
		_ = n.Watch(ctx)
		cut()
		time.Sleep(time.Duration(rand.N(5000)) * time.Microsecond)
		other.Close()
	}

	var busy sync.WaitGroup
	stopBusy := make(chan struct{})
	startBusy := func() {
		for w := range 4 {
			busy.Add(1)
			go func() {
				defer busy.Done()
				for i := 0; ; i++ {
					select {
					case <-stopBusy:
						return
					default:
					}
					h := handles[(w*13+i)%nodes]
					cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
					if w%2 == 0 {
						_, _ = h.Set(cctx, []byte(fmt.Sprint(w, "-", i)), -1)
					} else {
						_, _ = h.Value(cctx)
						_, _ = h.Children(cctx)
					}
					ccancel()
				}
			}()
		}
	}

	for i := range idleCuts + busyCuts {
		if i == idleCuts {
			startBusy()
		}
		before := connected.Load()
		switch {
		case i%closeNear == closeNear-1:
			closeAround(p.Cut)
		case i%7 == 3:
			// An outage long enough for requests to queue: nothing answers for a while.
			p.SetTarget(dead)
			p.Cut()
			time.Sleep(time.Duration(50+rand.N(100)) * time.Millisecond)
			p.SetTarget(zkc.Addrs()[0])
		default:
			p.Cut()
		}
		waitConnected(before)
	}
	close(stopBusy)
	busy.Wait()

	// Every node converges to the server's state.
	deadline := time.Now().Add(20 * time.Second)
	for i, h := range handles {
		for {
			data, st, err := raw.Get(root + "/n" + strconv.Itoa(i))
			if err != nil {
				t.Fatal(err)
			}
			v, err := h.Value(ctxT(t, 10*time.Second))
			if err == nil && string(v.Data) == string(data) && v.Stat.Mzxid == st.Mzxid {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %d: mirror %q (mzxid %d, %v), server %q (mzxid %d)", i, v.Data, v.Stat.Mzxid, err, data, st.Mzxid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if n := tree.Len(); n != nodes+1 {
		t.Fatalf("tree holds %d nodes, want %d", n, nodes+1)
	}
	if got := connected.Load(); got < idleCuts+busyCuts {
		t.Fatalf("%d reconnects, want at least %d", got, idleCuts+busyCuts)
	}
	cancel()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}
