package rx_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/reactivex/rxgo/v2"
	"github.com/zkmirror/zkmirror/internal/chantest"
	"github.com/zkmirror/zkmirror/leaktest"
	"github.com/zkmirror/zkmirror/operators/rx"
)

func double(_ context.Context, v any) (any, error) { return v.(int) * 2, nil }

func TestRoundTrip(t *testing.T) {
	leaktest.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 1000
	items := make([]int, n)
	for i := range items {
		items[i] = i
	}
	obs := rx.ToObservable(ctx, chantest.Source(ctx, items...)).
		Map(double, rxgo.WithContext(ctx)).
		Filter(func(v any) bool { return v.(int)%3 == 0 }, rxgo.WithContext(ctx))
	var got []int
	for _, r := range chantest.Collect(t, rx.FromObservable[int](ctx, obs)) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		got = append(got, r.Value)
	}
	var want []int
	for i := range n {
		if i*2%3 == 0 {
			want = append(want, i*2)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %d items, want %d (order and count must be kept)", len(got), len(want))
	}
}

func TestDirect(t *testing.T) {
	leaktest.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := chantest.Collect(t, rx.FromObservable[string](ctx, rx.ToObservable(ctx, chantest.Source(ctx, "a", "b"))))
	if want := []rx.Result[string]{{Value: "a"}, {Value: "b"}}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestSequentialOperators(t *testing.T) {
	leaktest.Check(t)
	tests := []struct {
		name  string
		chain func(ctx context.Context, o rxgo.Observable) rxgo.Observable
		want  []int
	}{
		{"Scan", func(ctx context.Context, o rxgo.Observable) rxgo.Observable {
			return o.Scan(func(_ context.Context, acc, v any) (any, error) {
				if acc == nil {
					return v, nil
				}
				return acc.(int) + v.(int), nil
			}, rxgo.WithContext(ctx))
		}, []int{1, 3, 6, 10}},
		{"Take", func(ctx context.Context, o rxgo.Observable) rxgo.Observable {
			return o.Take(2, rxgo.WithContext(ctx))
		}, []int{1, 2}},
		{"Skip", func(ctx context.Context, o rxgo.Observable) rxgo.Observable {
			return o.Skip(3, rxgo.WithContext(ctx))
		}, []int{4}},
		{"DistinctUntilChanged", func(ctx context.Context, o rxgo.Observable) rxgo.Observable {
			return o.Map(func(_ context.Context, v any) (any, error) { return v.(int) / 2, nil }, rxgo.WithContext(ctx)).
				DistinctUntilChanged(func(_ context.Context, v any) (any, error) { return v, nil }, rxgo.WithContext(ctx))
		}, []int{0, 1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			obs := tt.chain(ctx, rx.ToObservable(ctx, chantest.Source(ctx, 1, 2, 3, 4)))
			var got []int
			for _, r := range chantest.Collect(t, rx.FromObservable[int](ctx, obs)) {
				if r.Err != nil {
					t.Fatal(r.Err)
				}
				got = append(got, r.Value)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWrongType(t *testing.T) {
	leaktest.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	obs := rx.ToObservable(ctx, chantest.Source(ctx, 1, 2, 3)).
		Map(func(_ context.Context, v any) (any, error) {
			if v.(int) == 2 {
				return "two", nil
			}
			return v, nil
		}, rxgo.WithContext(ctx))
	got := chantest.Collect(t, rx.FromObservable[int](ctx, obs))
	if len(got) != 3 || got[0] != (rx.Result[int]{Value: 1}) || got[2] != (rx.Result[int]{Value: 3}) {
		t.Fatalf("got %v, want 1, an error, 3", got)
	}
	if !errors.Is(got[1].Err, rx.ErrType) {
		t.Fatalf("got %v, want an error wrapping ErrType", got[1].Err)
	}
	t.Log(got[1].Err)
}

func TestNilItems(t *testing.T) {
	leaktest.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// nil is a valid value of pointer and interface types, not of int.
	ptrs := chantest.Collect(t, rx.FromObservable[*int](ctx, rx.ToObservable(ctx, chantest.Source[*int](ctx, nil))))
	if len(ptrs) != 1 || ptrs[0].Err != nil || ptrs[0].Value != nil {
		t.Fatalf("*int: got %v", ptrs)
	}
	errs := chantest.Collect(t, rx.FromObservable[error](ctx, rx.ToObservable(ctx, chantest.Source[error](ctx, nil))))
	if len(errs) != 1 || errs[0].Err != nil || errs[0].Value != nil {
		t.Fatalf("error: got %v", errs)
	}
	ints := chantest.Collect(t, rx.FromObservable[int](ctx, rx.ToObservable(ctx, chantest.Source[any](ctx, nil))))
	if len(ints) != 1 || !errors.Is(ints[0].Err, rx.ErrType) {
		t.Fatalf("int: got %v", ints)
	}
}

func TestItemError(t *testing.T) {
	leaktest.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	boom := errors.New("boom")
	obs := rx.ToObservable(ctx, chantest.Source(ctx, 1, 2, 3)).
		Map(func(_ context.Context, v any) (any, error) {
			if v.(int) == 2 {
				return nil, fmt.Errorf("item %d: %w", v, boom)
			}
			return v, nil
		}, rxgo.WithContext(ctx))
	got := chantest.Collect(t, rx.FromObservable[int](ctx, obs))
	// RxGo stops at the first error by default; the error is passed on.
	if len(got) < 2 || got[0] != (rx.Result[int]{Value: 1}) || !errors.Is(got[1].Err, boom) {
		t.Fatalf("got %v, want 1 then the error", got)
	}
}

// TestCancelEndsEverything cancels ctx with the input left open and the reader gone:
// our goroutines and RxGo's must all end (leaktest checks it).
func TestCancelEndsEverything(t *testing.T) {
	chains := []struct {
		name  string
		chain func(ctx context.Context, o rxgo.Observable) rxgo.Observable
	}{
		{"no operator", func(ctx context.Context, o rxgo.Observable) rxgo.Observable { return o }},
		{"Map", func(ctx context.Context, o rxgo.Observable) rxgo.Observable {
			return o.Map(double, rxgo.WithContext(ctx))
		}},
		{"Map Filter Map", func(ctx context.Context, o rxgo.Observable) rxgo.Observable {
			return o.Map(double, rxgo.WithContext(ctx)).
				Filter(func(v any) bool { return v.(int)%4 == 0 }, rxgo.WithContext(ctx)).
				Map(double, rxgo.WithContext(ctx))
		}},
		{"Take", func(ctx context.Context, o rxgo.Observable) rxgo.Observable {
			return o.Take(3, rxgo.WithContext(ctx))
		}},
	}
	for _, c := range chains {
		for _, reads := range []int{0, 2} {
			t.Run(fmt.Sprintf("%s/%d reads", c.name, reads), func(t *testing.T) {
				leaktest.Check(t)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				out := rx.FromObservable[int](ctx, c.chain(ctx, rx.ToObservable(ctx, chantest.Endless(ctx))))
				for range reads {
					if r := chantest.RecvOne(t, out); r.Err != nil {
						t.Fatal(r.Err)
					}
				}
				time.Sleep(5 * time.Millisecond) // let the pipeline block on the reader
				cancel()
			})
		}
	}
}

// TestCancelAfterCompletion runs pipelines to completion, then cancels: nothing is left.
func TestCancelAfterCompletion(t *testing.T) {
	leaktest.Check(t)
	for range 20 {
		ctx, cancel := context.WithCancel(context.Background())
		obs := rx.ToObservable(ctx, chantest.Source(ctx, 1, 2, 3)).Map(double, rxgo.WithContext(ctx))
		if got := chantest.Collect(t, rx.FromObservable[int](ctx, obs)); len(got) != 3 {
			t.Fatalf("got %v", got)
		}
		cancel()
	}
}

// TestNeverObserved: an observable nobody observes holds a goroutine until ctx ends.
func TestNeverObserved(t *testing.T) {
	leaktest.Check(t)
	ctx, cancel := context.WithCancel(context.Background())
	_ = rx.ToObservable(ctx, chantest.Endless(ctx)).Map(double, rxgo.WithContext(ctx))
	cancel()
}

func TestNilArgumentsPanic(t *testing.T) {
	leaktest.Check(t)
	var nilCtx context.Context
	tests := []struct {
		name string
		call func()
		want string
	}{
		{"ToObservable ctx", func() { rx.ToObservable(nilCtx, make(chan int)) }, "rx: ToObservable called with nil context"},
		{"FromObservable ctx", func() { rx.FromObservable[int](nilCtx, rxgo.Just(1)()) }, "rx: FromObservable called with nil context"},
		{"FromObservable obs", func() { rx.FromObservable[int](context.Background(), nil) }, "rx: FromObservable called with nil observable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != tt.want {
					t.Fatalf("panic %v, want %q", r, tt.want)
				}
			}()
			tt.call()
		})
	}
}
