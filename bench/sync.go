package main

import (
	"context"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror"
)

// runSync: the initial load of a node with many children, as a Tree and with MaxDepth(1).
func runSync(e *env) error {
	const scn = "sync"
	root := benchRoot + "/sync"
	if err := ensureChildren(e.ctx, e.admin.Conn, root, e.sz.syncChildren, func(int) []byte { return labeled("sync") }); err != nil {
		return err
	}
	_, st, err := e.admin.Get(root)
	if err != nil {
		return err
	}
	children := int(st.NumChildren)

	for _, variant := range []struct {
		name  string
		depth int // -1: unlimited
		label string
		max   float64 // the target: mirror/raw at most this
	}{
		{"tree", -1, fmt.Sprintf("%d children, Tree: data+children watches", children), 0.9},
		{"depth1", 1, fmt.Sprintf("%d children, MaxDepth(1): data watches", children), 1.1},
	} {
		err := e.repeat(scn, variant.name, []string{"mirror", "raw"}, 15, func(ctx context.Context, side string, r rep) error {
			var d time.Duration
			var cpu cpuSpent
			var err error
			sysr0, sysw0 := ioSyscalls()
			switch side {
			case "mirror":
				d, cpu, err = syncMirror(ctx, e, root, variant.depth, children+1)
			case "raw":
				d, cpu, err = syncRaw(ctx, e, root, variant.depth < 0, children)
			}
			if err != nil {
				return err
			}
			sysr, sysw := ioSyscalls()
			e.put(scn, variant.name, side, r, "sync", "s", d.Seconds())
			// The reads the job takes: the root's data and children, then each child's
			// data (and children).
			reads := 2 + children
			if variant.depth < 0 {
				reads += children
			}
			e.put(scn, variant.name, side, r, "cpu/read", "s", cpu.proc.Seconds()/float64(reads))
			if cpu.serverOK {
				e.put(scn, variant.name, side, r, "server-cpu/read", "s", cpu.server.Seconds()/float64(reads))
			}
			if sysr0 >= 0 && sysr >= 0 {
				e.put(scn, variant.name, side, r, "syscalls/read", "x", float64(sysr-sysr0)/float64(reads))
				e.put(scn, variant.name, side, r, "wsyscalls/read", "x", float64(sysw-sysw0)/float64(reads))
			}
			return nil
		})
		if err != nil {
			return err
		}
		tg := ratioAtMost(variant.max)
		e.rec.summarize(scn, variant.name, "mirror", "raw", "sync", variant.label, "s", &tg, "")
		e.rec.summarize(scn, variant.name, "mirror", "raw", "cpu/read", variant.name+": process CPU per read", "s", nil, "")
		if e.server != nil {
			e.rec.summarize(scn, variant.name, "mirror", "raw", "server-cpu/read", variant.name+": server CPU per read", "s", nil, "")
		}
		e.rec.summarize(scn, variant.name, "mirror", "raw", "syscalls/read", variant.name+": read system calls per read", "x", nil, "")
		e.rec.summarize(scn, variant.name, "mirror", "raw", "wsyscalls/read", variant.name+": write system calls per read", "x", nil, "")
	}
	return nil
}

// syncMirror times Mirror.Tree to Tree.Synced on a connected Mirror, and returns the CPU
// time spent meanwhile.
func syncMirror(ctx context.Context, e *env, root string, depth, want int) (time.Duration, cpuSpent, error) {
	m, err := connectMirror(ctx, e.servers)
	if err != nil {
		return 0, cpuSpent{}, err
	}
	defer m.Close()
	var opts []zkmirror.TreeOption
	if depth >= 0 {
		opts = append(opts, zkmirror.MaxDepth(depth))
	}
	sctx, cancel := context.WithTimeout(ctx, 120*time.Second)
	defer cancel()
	w := e.startCPU()
	t0 := time.Now()
	t, err := m.Tree(root, opts...)
	if err != nil {
		return 0, cpuSpent{}, err
	}
	defer t.Close()
	if err := t.Synced(sctx); err != nil {
		return 0, cpuSpent{}, err
	}
	d := time.Since(t0)
	cpu := w.spent()
	if n := t.Len(); n != want {
		return 0, cpuSpent{}, fmt.Errorf("tree holds %d nodes, want %d", n, want)
	}
	return d, cpu, nil
}

// rawRead is one node's state as the raw client keeps it.
type rawRead struct {
	data []byte
	stat zk.Stat
	kids []string
}

// syncRaw is the raw client's initial load: ChildrenW and GetW on the root, then GetW
// (and ChildrenW when full) on every child, as separate requests pipelined 64 deep.
func syncRaw(ctx context.Context, e *env, root string, full bool, want int) (time.Duration, cpuSpent, error) {
	conn, err := dialRaw(ctx, e.servers, 10*time.Second, nil)
	if err != nil {
		return 0, cpuSpent{}, err
	}
	defer conn.close()
	w := e.startCPU()
	t0 := time.Now()
	var top rawRead
	names, st, _, err := conn.ChildrenW(root)
	if err != nil {
		return 0, cpuSpent{}, err
	}
	top.kids, top.stat = names, *st
	if top.data, st, _, err = conn.GetW(root); err != nil {
		return 0, cpuSpent{}, err
	}
	top.stat = *st
	nodes := make([]rawRead, len(names))
	ops := len(names)
	if full {
		ops *= 2
	}
	err = pipelined(ctx, ops, readConcurrency, func(i int) error {
		j := i % len(names)
		p := root + "/" + names[j]
		if i < len(names) {
			data, st, _, err := conn.GetW(p)
			if err != nil {
				return err
			}
			nodes[j].data, nodes[j].stat = data, *st
			return nil
		}
		kids, _, _, err := conn.ChildrenW(p)
		nodes[j].kids = kids
		return err
	})
	if err != nil {
		return 0, cpuSpent{}, err
	}
	d := time.Since(t0)
	cpu := w.spent()
	if len(nodes) != want {
		return 0, cpuSpent{}, fmt.Errorf("read %d children, want %d", len(nodes), want)
	}
	return d, cpu, nil
}
