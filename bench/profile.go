package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
)

// profiler implements -cpuprofile, -memprofile and -profile.
//
// Every repetition runs under pprof labels scenario=…, side=… (goroutines it starts,
// the Mirror's and go-zookeeper's included, inherit them), so a whole-run -cpuprofile can
// be split with pprof -tagfocus side=mirror. -profile DIR instead writes one CPU profile
// per measured repetition, DIR/<scenario>[_<variant>]-<side>-<rep>.cpu.pprof (give several
// to pprof to merge them), block and mutex profiles next to it (.block.pprof, .mutex.pprof;
// sampled only during measured repetitions, but cumulative over the run so far: use
// pprof -diff_base with the file written before it for one repetition alone), and heap
// profiles taken while the memory scenario holds its nodes, DIR/memory-<side>.heap.pprof.
type profiler struct {
	dir     string
	cpuFile *os.File
	memPath string

	mu      sync.Mutex
	memDone bool
}

func newProfiler(cpuPath, memPath, dir string) (*profiler, error) {
	p := &profiler{dir: dir, memPath: memPath}
	if cpuPath != "" && dir != "" {
		return nil, fmt.Errorf("-cpuprofile and -profile both use the CPU profiler: pick one")
	}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	if cpuPath != "" {
		f, err := os.Create(cpuPath)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
		p.cpuFile = f
	}
	return p, nil
}

// run runs f under the repetition's labels, with a per-repetition CPU profile for -profile.
func (p *profiler) run(ctx context.Context, scn, side string, r rep, f func(ctx context.Context) error) error {
	var err error
	pprof.Do(ctx, pprof.Labels("scenario", scn, "side", side), func(ctx context.Context) {
		if p.dir == "" || r.warm {
			err = f(ctx)
			return
		}
		name := strings.ReplaceAll(scn, "/", "_") // sync/tree → sync_tree
		path := filepath.Join(p.dir, fmt.Sprintf("%s-%s-%d.cpu.pprof", name, side, r.n))
		out, cerr := os.Create(path)
		if cerr != nil {
			err = cerr
			return
		}
		defer out.Close()
		if perr := pprof.StartCPUProfile(out); perr != nil {
			err = perr
			return
		}
		runtime.SetBlockProfileRate(blockProfileRate)
		runtime.SetMutexProfileFraction(mutexProfileFraction)
		err = f(ctx)
		pprof.StopCPUProfile()
		runtime.SetBlockProfileRate(0)
		runtime.SetMutexProfileFraction(0)
		base := strings.TrimSuffix(path, ".cpu.pprof")
		for _, prof := range []string{"block", "mutex"} {
			if werr := writeProfile(prof, base+"."+prof+".pprof"); werr != nil && err == nil {
				err = werr
			}
		}
	})
	return err
}

// Sampling of the block and mutex profiles during measured repetitions with -profile: a
// blocking event of 10 µs or more is sampled, and one in 10 contended mutex unlocks.
const (
	blockProfileRate     = 10_000 // ns
	mutexProfileFraction = 10
)

// writeProfile writes the named runtime profile to path.
func writeProfile(name, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// heap writes a heap profile of what is live now: to DIR/memory-<side>.heap.pprof with
// -profile, and the first mirror one also to -memprofile.
func (p *profiler) heap(name string, mirror bool) error {
	var paths []string
	if p.dir != "" {
		paths = append(paths, filepath.Join(p.dir, name+".heap.pprof"))
	}
	p.mu.Lock()
	if mirror && p.memPath != "" && !p.memDone {
		p.memDone = true
		paths = append(paths, p.memPath)
	}
	p.mu.Unlock()
	if len(paths) == 0 {
		return nil
	}
	runtime.GC()
	for _, path := range paths {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

// finish stops the whole-run CPU profile and writes -memprofile if no scenario did.
func (p *profiler) finish() error {
	var first error
	if p.cpuFile != nil {
		pprof.StopCPUProfile()
		first = p.cpuFile.Close()
		p.cpuFile = nil
	}
	p.mu.Lock()
	need := p.memPath != "" && !p.memDone
	p.memDone = true
	p.mu.Unlock()
	if need {
		runtime.GC()
		f, err := os.Create(p.memPath)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil && first == nil {
			first = err
		}
	}
	return first
}
