package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/zkmirror/zkmirror"
)

// runSnapshot: the snapshot file (WithSnapshotFile) of a Tree of the memory scenario's
// 100,000 nodes. A Mirror with the option loads the Tree from the server and closes, which
// writes the file; then a Mirror started with no server reachable loads the file: from
// Connect to the Tree holding every node. Its reference, in the same repetition, is the
// same Tree loaded from the server (Connect, first session, Tree.Synced). Also the file's
// size, and the Close of the Mirror that writes the file against one without the option.
func runSnapshot(e *env) error {
	const scn = "snapshot"
	root := benchRoot + "/memory"
	n := e.sz.memoryNodes
	logf("snapshot: creating %d nodes (once per run)", n)
	if err := ensureChildren(e.ctx, e.admin.Conn, root, n, func(int) []byte { return labeled("memory") }); err != nil {
		return err
	}
	_, st, err := e.admin.Get(root)
	if err != nil {
		return err
	}
	want := int(st.NumChildren) + 1
	dir, err := os.MkdirTemp("", "zkmirror-bench-snapshot-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	dead, err := deadAddr()
	if err != nil {
		return err
	}

	err = e.repeat(scn, "", []string{"file", "server"}, 5, func(ctx context.Context, side string, r rep) error {
		file := filepath.Join(dir, "tree.snap")
		var opts []zkmirror.Option
		if side == "file" {
			os.Remove(file)
			opts = append(opts, zkmirror.WithSnapshotFile(file))
		}
		// Load from the server; with the option, Close writes the file.
		t0 := time.Now()
		m, err := connectMirror(ctx, e.servers, opts...)
		if err != nil {
			return err
		}
		t, err := m.Tree(root)
		if err != nil {
			m.Close()
			return err
		}
		sctx, cancel := context.WithTimeout(ctx, 300*time.Second)
		err = t.Synced(sctx)
		cancel()
		if err != nil {
			m.Close()
			return err
		}
		fromServer := time.Since(t0)
		if got := t.Len(); got != want {
			m.Close()
			return fmt.Errorf("tree holds %d nodes, want %d", got, want)
		}
		c0 := time.Now()
		m.Close()
		e.put(scn, "", side, r, "close", "s", time.Since(c0).Seconds())
		if side == "server" {
			e.put(scn, "", side, r, "load", "s", fromServer.Seconds())
			return nil
		}
		fi, err := os.Stat(file)
		if err != nil {
			return fmt.Errorf("no snapshot file after Close: %w", err)
		}
		e.put(scn, "", side, r, "size", "B", float64(fi.Size()))
		e.put(scn, "", side, r, "bytes/node", "B", float64(fi.Size())/float64(want))

		// Load from the file, no server reachable.
		runtime.GC()
		t0 = time.Now()
		m2, err := zkmirror.Connect([]string{dead}, zkmirror.WithSnapshotFile(file))
		if err != nil {
			return err
		}
		defer m2.Close()
		t2, err := m2.Tree(root)
		if err != nil {
			return err
		}
		loaded := time.Since(t0)
		if got := t2.Len(); got != want {
			return fmt.Errorf("restored tree holds %d nodes, want %d", got, want)
		}
		if v, ok := t2.Get(root + "/" + childName(0)); !ok || !v.Restored {
			return fmt.Errorf("restored node: %+v %v", v, ok)
		}
		e.put(scn, "", side, r, "load", "s", loaded.Seconds())
		return nil
	})
	if err != nil {
		return err
	}
	label := fmt.Sprintf("%d nodes × %d B:", want, dataSize)
	e.rec.summarize(scn, "", "file", "server", "load", label+" Connect → Tree loaded (file, no server / server)", "s", nil, "")
	e.rec.summarize(scn, "", "file", "", "size", label+" snapshot file size", "B", nil, "")
	e.rec.summarize(scn, "", "file", "", "bytes/node", label+" file bytes per node", "B", nil, "")
	e.rec.summarize(scn, "", "file", "server", "close", label+" Mirror.Close (with the file, which writes it if changed / without)", "s", nil, "")
	return nil
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}
