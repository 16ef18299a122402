package main

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/go-zookeeper/zk"
)

// heapAlloc returns the live heap after a full collection.
func heapAlloc() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// runMemory: heap bytes per node with many nodes mirrored. Baseline: the connection up,
// nothing mirrored. Then everything loaded and held.
func runMemory(e *env) error {
	const scn = "memory"
	root := benchRoot + "/memory"
	n := e.sz.memoryNodes
	logf("memory: creating %d nodes (once per run)", n)
	start := time.Now()
	if err := ensureChildren(e.ctx, e.admin.Conn, root, n, func(int) []byte { return labeled("memory") }); err != nil {
		return err
	}
	_, st, err := e.admin.Get(root)
	if err != nil {
		return err
	}
	nodes := int(st.NumChildren) + 1
	logf("memory: %d nodes ready in %v", nodes, time.Since(start).Round(time.Millisecond))

	err = e.repeat(scn, "", []string{"mirror", "raw"}, 3, func(ctx context.Context, side string, r rep) error {
		var per float64
		var err error
		switch side {
		case "mirror":
			per, err = memoryMirror(ctx, e, root, nodes, r)
		case "raw":
			per, err = memoryRaw(ctx, e, root, nodes, r)
		}
		if err != nil {
			return err
		}
		e.put(scn, "", side, r, "bytes/node", "B", per)
		return nil
	})
	if err != nil {
		return err
	}
	tg := ratioAtMost(1.10)
	e.rec.summarize(scn, "", "mirror", "raw", "bytes/node", fmt.Sprintf("heap per node, %d nodes × %d B (Tree, default)", nodes, dataSize), "B", &tg, "")
	return nil
}

func memoryMirror(ctx context.Context, e *env, root string, want int, r rep) (float64, error) {
	m, err := connectMirror(ctx, e.servers)
	if err != nil {
		return 0, err
	}
	defer m.Close()
	base := heapAlloc()
	t, err := m.Tree(root)
	if err != nil {
		return 0, err
	}
	defer t.Close()
	sctx, cancel := context.WithTimeout(ctx, 300*time.Second)
	defer cancel()
	if err := t.Synced(sctx); err != nil {
		return 0, err
	}
	if got := t.Len(); got != want {
		return 0, fmt.Errorf("tree holds %d nodes, want %d", got, want)
	}
	held := heapAlloc()
	if !r.warm {
		if err := e.prof.heap("memory-mirror", true); err != nil {
			return 0, err
		}
	}
	runtime.KeepAlive(t)
	return (float64(held) - float64(base)) / float64(want), nil
}

// rawNode is what the raw program keeps per node: data, Stat and child names.
type rawNode struct {
	data []byte
	stat zk.Stat
	kids []string
}

func memoryRaw(ctx context.Context, e *env, root string, want int, r rep) (float64, error) {
	conn, err := dialRaw(ctx, e.servers, 10*time.Second, nil)
	if err != nil {
		return 0, err
	}
	defer conn.close()
	base := heapAlloc()
	held := map[string]*rawNode{}
	names, _, _, err := conn.ChildrenW(root)
	if err != nil {
		return 0, err
	}
	paths := make([]string, 0, len(names)+1)
	paths = append(paths, root)
	for _, nm := range names {
		paths = append(paths, root+"/"+nm)
	}
	for _, p := range paths {
		held[p] = &rawNode{}
	}
	held[root].kids = names
	// GetW on every node and ChildrenW on every node but the root (done above), pipelined;
	// each goroutine fills in its own field of an entry made beforehand.
	n := len(paths)
	err = pipelined(ctx, 2*n-1, readConcurrency, func(i int) error {
		if i < n {
			data, st, _, err := conn.GetW(paths[i])
			if err != nil {
				return err
			}
			nd := held[paths[i]]
			nd.data, nd.stat = data, *st
			return nil
		}
		p := paths[i-n+1]
		kids, _, _, err := conn.ChildrenW(p)
		if err != nil {
			return err
		}
		held[p].kids = kids
		return nil
	})
	if err != nil {
		return 0, err
	}
	if len(held) != want {
		return 0, fmt.Errorf("holds %d nodes, want %d", len(held), want)
	}
	after := heapAlloc()
	if !r.warm {
		if err := e.prof.heap("memory-raw", false); err != nil {
			return 0, err
		}
	}
	runtime.KeepAlive(held)
	return (float64(after) - float64(base)) / float64(want), nil
}
