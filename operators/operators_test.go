package operators_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/internal/chantest"
	"github.com/zkmirror/zkmirror/leaktest"
	"github.com/zkmirror/zkmirror/operators"
)

func TestNilArgumentsPanic(t *testing.T) {
	leaktest.Check(t)
	var nilCtx context.Context
	ctx := context.Background()
	in := make(chan int)
	tests := []struct {
		name string
		call func()
		want string
	}{
		{"Map ctx", func() { operators.Map(nilCtx, in, func(int) int { return 0 }) }, "operators: Map called with nil context"},
		{"Map func", func() { operators.Map[int, int](ctx, in, nil) }, "operators: Map called with nil func"},
		{"Filter ctx", func() { operators.Filter(nilCtx, in, func(int) bool { return true }) }, "operators: Filter called with nil context"},
		{"Filter func", func() { operators.Filter(ctx, in, nil) }, "operators: Filter called with nil func"},
		{"Scan ctx", func() { operators.Scan(nilCtx, in, 0, func(a, v int) int { return a }) }, "operators: Scan called with nil context"},
		{"Scan func", func() { operators.Scan[int, int](ctx, in, 0, nil) }, "operators: Scan called with nil func"},
		{"Distinct ctx", func() { operators.Distinct(nilCtx, in) }, "operators: Distinct called with nil context"},
		{"DistinctFunc ctx", func() { operators.DistinctFunc(nilCtx, in, func(a, b int) bool { return a == b }) }, "operators: DistinctFunc called with nil context"},
		{"DistinctFunc func", func() { operators.DistinctFunc(ctx, in, nil) }, "operators: DistinctFunc called with nil func"},
		{"Debounce ctx", func() { operators.Debounce(nilCtx, in, 1) }, "operators: Debounce called with nil context"},
		{"Throttle ctx", func() { operators.Throttle(nilCtx, in, 1) }, "operators: Throttle called with nil context"},
		{"Merge ctx", func() { operators.Merge(nilCtx, in) }, "operators: Merge called with nil context"},
		{"CombineLatest ctx", func() { operators.CombineLatest(nilCtx, in) }, "operators: CombineLatest called with nil context"},
		{"CombineLatest2 ctx", func() {
			operators.CombineLatest2(nilCtx, in, in, func(a, b int) int { return a })
		}, "operators: CombineLatest2 called with nil context"},
		{"CombineLatest2 func", func() { operators.CombineLatest2[int, int, int](ctx, in, in, nil) }, "operators: CombineLatest2 called with nil func"},
		{"CombineLatest3 ctx", func() {
			operators.CombineLatest3(nilCtx, in, in, in, func(a, b, c int) int { return a })
		}, "operators: CombineLatest3 called with nil context"},
		{"CombineLatest3 func", func() { operators.CombineLatest3[int, int, int, int](ctx, in, in, in, nil) }, "operators: CombineLatest3 called with nil func"},
		{"Hold ctx", func() { operators.Hold(nilCtx, in) }, "operators: Hold called with nil context"},
		{"DecodeJSON ctx", func() { operators.DecodeJSON[int](nilCtx, make(chan zkmirror.Value)) }, "operators: DecodeJSON called with nil context"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatal("no panic")
				}
				if msg, _ := r.(string); msg != tt.want {
					t.Fatalf("panic %v, want %q", r, tt.want)
				}
			}()
			tt.call()
		})
	}
}

// TestSequentialOperatorsDoNotDrop checks that Map, Filter and Scan pass every item, in
// order, and close when their input closes.
func TestSequentialOperatorsDoNotDrop(t *testing.T) {
	leaktest.Check(t)
	const n = 2000
	tests := []struct {
		name string
		run  func(ctx context.Context, in <-chan int) <-chan int
		want func(int) []int
	}{
		{
			name: "Map",
			run: func(ctx context.Context, in <-chan int) <-chan int {
				return operators.Map(ctx, in, func(v int) int { return v * 3 })
			},
			want: func(n int) []int {
				var w []int
				for i := range n {
					w = append(w, i*3)
				}
				return w
			},
		},
		{
			name: "Filter",
			run: func(ctx context.Context, in <-chan int) <-chan int {
				return operators.Filter(ctx, in, func(v int) bool { return v%3 == 0 })
			},
			want: func(n int) []int {
				var w []int
				for i := 0; i < n; i += 3 {
					w = append(w, i)
				}
				return w
			},
		},
		{
			name: "Scan",
			run: func(ctx context.Context, in <-chan int) <-chan int {
				return operators.Scan(ctx, in, 100, func(acc, v int) int { return acc + v })
			},
			want: func(n int) []int {
				var w []int
				acc := 100
				for i := range n {
					acc += i
					w = append(w, acc)
				}
				return w
			},
		},
		{
			name: "Map of Map",
			run: func(ctx context.Context, in <-chan int) <-chan int {
				s := operators.Map(ctx, in, func(v int) string { return strings.Repeat("x", v%7) })
				return operators.Map(ctx, s, func(v string) int { return len(v) })
			},
			want: func(n int) []int {
				var w []int
				for i := range n {
					w = append(w, i%7)
				}
				return w
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			got := chantest.Collect(t, tt.run(ctx, chantest.Source(ctx, ints(n)...)))
			if want := tt.want(n); !slices.Equal(got, want) {
				t.Fatalf("got %d items, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
			}
		})
	}
}

func firstDiff(a, b []int) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestScanAccumulatesOtherType(t *testing.T) {
	leaktest.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := chantest.Collect(t, operators.Scan(ctx, chantest.Source(ctx, "a", "b", "c"), []string(nil),
		func(acc []string, v string) []string { return append(slices.Clip(acc), v) }))
	want := [][]string{{"a"}, {"a", "b"}, {"a", "b", "c"}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestMerge(t *testing.T) {
	leaktest.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const inputs, n = 4, 500
	type item struct{ in, seq int }
	ins := make([]<-chan item, inputs)
	for i := range ins {
		items := make([]item, n)
		for j := range items {
			items[j] = item{i, j}
		}
		ins[i] = chantest.Source(ctx, items...)
	}
	got := chantest.Collect(t, operators.Merge(ctx, ins...))
	if len(got) != inputs*n {
		t.Fatalf("got %d items, want %d", len(got), inputs*n)
	}
	next := make([]int, inputs)
	for _, it := range got {
		if it.seq != next[it.in] {
			t.Fatalf("input %d: got item %d, want %d (order lost)", it.in, it.seq, next[it.in])
		}
		next[it.in]++
	}
}

func TestMergeEdgeCases(t *testing.T) {
	leaktest.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t.Run("no inputs", func(t *testing.T) {
		expectClosed(t, operators.Merge[int](ctx))
	})
	t.Run("closed inputs", func(t *testing.T) {
		expectClosed(t, operators.Merge(ctx, chantest.Source[int](ctx), chantest.Source[int](ctx)))
	})
	t.Run("one input", func(t *testing.T) {
		got := chantest.Collect(t, operators.Merge(ctx, chantest.Source(ctx, 1, 2, 3)))
		if !slices.Equal(got, []int{1, 2, 3}) {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("nil interface items", func(t *testing.T) {
		got := chantest.Collect(t, operators.Merge(ctx, chantest.Source[error](ctx, nil, context.Canceled)))
		if len(got) != 2 || got[0] != nil || got[1] != context.Canceled {
			t.Fatalf("got %v", got)
		}
	})
}

func TestDistinct(t *testing.T) {
	leaktest.Check(t)
	tests := []struct {
		in, want []int
	}{
		{nil, nil},
		{[]int{1}, []int{1}},
		{[]int{1, 1, 1}, []int{1}},
		{[]int{1, 2, 2, 3, 3, 3, 2, 1, 1}, []int{1, 2, 3, 2, 1}},
		{[]int{0, 0, 1}, []int{0, 1}}, // the zero value is an item like any other
		{[]int{5, 6, 5, 6}, []int{5, 6, 5, 6}},
	}
	for _, tt := range tests {
		ctx, cancel := context.WithCancel(context.Background())
		got := chantest.Collect(t, operators.Distinct(ctx, chantest.Source(ctx, tt.in...)))
		cancel()
		if !slices.Equal(got, tt.want) {
			t.Errorf("Distinct(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestDistinctFunc(t *testing.T) {
	leaktest.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := chantest.Source(ctx, "a", "A", "b", "B", "b", "a", "a")
	got := chantest.Collect(t, operators.DistinctFunc(ctx, in, strings.EqualFold))
	if want := []string{"a", "b", "a"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// Equality is with the last item sent, so a slow drift is not collapsed into one.
	near := func(a, b int) bool { return b-a <= 1 && a-b <= 1 }
	got2 := chantest.Collect(t, operators.DistinctFunc(ctx, chantest.Source(ctx, 0, 1, 2, 3, 4), near))
	if want := []int{0, 2, 4}; !slices.Equal(got2, want) {
		t.Fatalf("got %v, want %v", got2, want)
	}
}
