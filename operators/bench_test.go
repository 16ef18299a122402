package operators_test

import (
	"context"
	"testing"
	"time"

	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/internal/chantest"
	"github.com/zkmirror/zkmirror/operators"
)

func BenchmarkMap(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	out := operators.Map(ctx, chantest.Count(ctx, b.N), func(i int) int { return i * 2 })
	for range out {
	}
}

func BenchmarkFilterMapScan(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	even := operators.Filter(ctx, chantest.Count(ctx, b.N), func(i int) bool { return i%2 == 0 })
	doubled := operators.Map(ctx, even, func(i int) int { return i * 2 })
	sum := operators.Scan(ctx, doubled, 0, func(acc, i int) int { return acc + i })
	for range sum {
	}
}

func BenchmarkCombineLatest3(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	out := operators.CombineLatest(ctx, chantest.Count(ctx, b.N), chantest.Count(ctx, b.N), chantest.Count(ctx, b.N))
	for range out {
	}
}

func BenchmarkMerge4(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	n := b.N/4 + 1
	out := operators.Merge(ctx, chantest.Count(ctx, n), chantest.Count(ctx, n), chantest.Count(ctx, n), chantest.Count(ctx, n))
	for range out {
	}
}

func BenchmarkDebounceBurst(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	out := operators.Debounce(ctx, chantest.Count(ctx, b.N), time.Millisecond)
	for range out {
	}
}

func BenchmarkDecodeJSON(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := make(chan zkmirror.Value)
	go func() {
		defer close(in)
		v := zkmirror.Value{Path: "/c", Exists: true, Data: []byte(`{"name":"api","replicas":3,"tags":["a","b"]}`)}
		for range b.N {
			select {
			case in <- v:
			case <-ctx.Done():
				return
			}
		}
	}()
	type cfg struct {
		Name     string   `json:"name"`
		Replicas int      `json:"replicas"`
		Tags     []string `json:"tags"`
	}
	b.ReportAllocs()
	for d := range operators.DecodeJSON[cfg](ctx, in) {
		if d.Err != nil {
			b.Fatal(d.Err)
		}
	}
}
