// Package rx bridges Go channels and RxGo (github.com/reactivex/rxgo/v2) observables, for
// code that already uses RxGo's operators. The operators of package operators are the
// preferred way to compose streams: they are typed, run one goroutine each and end with
// their context.
//
// RxGo v2.5.0 is unmaintained, and several of its parts leak goroutines, lose items or panic
// when observed twice: FromEventSource, connectable observables, CombineLatest, Merge, Concat,
// Amb, Debounce and the windowing and buffering operators. The bridge is safe with the
// sequential operators that read their source in order on one goroutine (Map, Filter, Scan,
// Take, Skip, DistinctUntilChanged), used as follows:
//
//   - Use one context per pipeline: give it to ToObservable, to every operator
//     (rxgo.WithContext(ctx)) and to FromObservable, and cancel it when the pipeline is no
//     longer needed, even if it completed. Every goroutine of the pipeline then ends, whether
//     or not the input closed or the output is read. Cancelling is required: the first
//     operator after ToObservable merges its context with the observable's, and RxGo does so
//     with a goroutine that ends only when the context ends.
//   - Do not give an operator a pool (rxgo.WithPool, rxgo.WithCPUPool) or an eager
//     observation strategy.
//   - Observe once. An observable made by ToObservable reads its input channel directly:
//     two observers would split the items between them rather than each get all of them.
//     FromObservable is that one observation.
//
// For example:
//
//	obs := rx.ToObservable(ctx, in).
//		Map(double, rxgo.WithContext(ctx)).
//		Filter(positive, rxgo.WithContext(ctx))
//	for r := range rx.FromObservable[int](ctx, obs) { ... }
package rx

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/reactivex/rxgo/v2"
)

// ErrType is wrapped by the error of a Result whose item was not of the expected type.
var ErrType = errors.New("rx: item of unexpected type")

// Result is one item of an observable: its value or its error.
type Result[T any] struct {
	Value T
	Err   error
}

// ToObservable returns a cold, single-subscriber observable of the items of in, in order.
// A goroutine of its own forwards the items to RxGo; it waits for the observer before taking
// the next item, and it ends, completing the observable, when in closes or ctx ends. The
// observable is created with rxgo.WithContext(ctx). ToObservable panics if ctx is nil.
func ToObservable[T any](ctx context.Context, in <-chan T) rxgo.Observable {
	if ctx == nil {
		panic("rx: ToObservable called with nil context")
	}
	items := make(chan rxgo.Item)
	go func() {
		defer close(items)
		for {
			var v T
			var ok bool
			select {
			case <-ctx.Done():
				return
			case v, ok = <-in:
				if !ok {
					return
				}
			}
			if ctx.Err() != nil {
				return
			}
			select {
			case items <- rxgo.Of(v):
			case <-ctx.Done():
				return
			}
		}
	}()
	return rxgo.FromChannel(items, rxgo.WithContext(ctx))
}

// FromObservable observes obs once, with rxgo.WithContext(ctx), and returns a channel of its
// items in order: an item's value as Value, or an item's error as Err. A value that is not a
// T gives a Result whose Err wraps ErrType. Nothing is dropped; the reader is waited for.
// The output closes when the observable completes or ctx ends. FromObservable panics if ctx
// or obs is nil.
func FromObservable[T any](ctx context.Context, obs rxgo.Observable) <-chan Result[T] {
	if ctx == nil {
		panic("rx: FromObservable called with nil context")
	}
	if obs == nil {
		panic("rx: FromObservable called with nil observable")
	}
	src := obs.Observe(rxgo.WithContext(ctx))
	out := make(chan Result[T])
	go func() {
		defer close(out)
		for {
			var item rxgo.Item
			var ok bool
			select {
			case <-ctx.Done():
				return
			case item, ok = <-src:
				if !ok {
					return
				}
			}
			if ctx.Err() != nil {
				return
			}
			select {
			case out <- resultOf[T](item):
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

func resultOf[T any](item rxgo.Item) Result[T] {
	if item.E != nil {
		return Result[T]{Err: item.E}
	}
	if v, ok := item.V.(T); ok {
		return Result[T]{Value: v}
	}
	t := reflect.TypeFor[T]()
	if item.V == nil {
		switch t.Kind() {
		case reflect.Interface, reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
			return Result[T]{} // nil is a valid T
		}
	}
	return Result[T]{Err: fmt.Errorf("%w: got %T, want %v", ErrType, item.V, t)}
}
