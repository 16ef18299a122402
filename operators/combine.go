package operators

import (
	"context"
	"reflect"
	"slices"
)

// selectCases returns the cases of a reflect.Select over ctx.Done() (case 0) and the inputs
// (case i+1 for ins[i]). The set of channels is fixed when the operator is called; an input
// that closes has its case disabled (a zero Chan, which reflect.Select ignores). This is how
// Merge and CombineLatest serve any number of inputs from a single goroutine.
func selectCases[T any](ctx context.Context, ins []<-chan T) []reflect.SelectCase {
	cases := make([]reflect.SelectCase, 1+len(ins))
	cases[0] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())}
	for i, in := range ins {
		cases[i+1] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(in)}
	}
	return cases
}

// itemOf converts a received reflect.Value back to T. A nil interface value becomes T's zero.
func itemOf[T any](rv reflect.Value) T {
	v, _ := rv.Interface().(T)
	return v
}

// Merge returns a channel of the items of all the inputs, interleaved as they arrive. Each
// input's items keep their order; nothing is dropped. When several inputs are ready at once,
// one is chosen at random, so no input starves another. The output closes when every input
// has closed (at once if there are none) or ctx ends.
//
// Merge serves all its inputs from one goroutine (a reflect.Select over them).
func Merge[T any](ctx context.Context, ins ...<-chan T) <-chan T {
	mustContext(ctx, "Merge")
	out := make(chan T)
	if len(ins) == 0 {
		close(out)
		return out
	}
	cases := selectCases(ctx, ins)
	go func() {
		defer close(out)
		open := len(ins)
		for {
			chosen, rv, ok := reflect.Select(cases)
			switch {
			case chosen == 0:
				return
			case !ok:
				cases[chosen].Chan = reflect.Value{}
				if open--; open == 0 {
					return
				}
			default:
				if !send(ctx, out, itemOf[T](rv)) {
					return
				}
			}
		}
	}()
	return out
}

// CombineLatest returns a channel of the latest items of all the inputs, as a slice whose
// element i is the latest item of ins[i]. Nothing is sent until every input has sent an item;
// then one slice is sent for that moment and one for every later item of any input, so no
// change is skipped. Each slice sent is a fresh copy that the reader owns and may modify.
//
// An input that closes keeps its latest item in the slices that follow. The output closes
// when every input has closed, when an input closes before it ever sent an item (nothing can
// be sent any more), or when ctx ends. With no inputs it is closed at once.
//
// CombineLatest serves all its inputs from one goroutine (a reflect.Select over them).
func CombineLatest[T any](ctx context.Context, ins ...<-chan T) <-chan []T {
	mustContext(ctx, "CombineLatest")
	out := make(chan []T)
	if len(ins) == 0 {
		close(out)
		return out
	}
	cases := selectCases(ctx, ins)
	go func() {
		defer close(out)
		latest := make([]T, len(ins))
		has := make([]bool, len(ins))
		missing, open := len(ins), len(ins)
		for {
			chosen, rv, ok := reflect.Select(cases)
			if chosen == 0 {
				return
			}
			i := chosen - 1
			if !ok {
				if !has[i] {
					return
				}
				cases[chosen].Chan = reflect.Value{}
				if open--; open == 0 {
					return
				}
				continue
			}
			latest[i] = itemOf[T](rv)
			if !has[i] {
				has[i] = true
				missing--
			}
			if missing == 0 && !send(ctx, out, slices.Clone(latest)) {
				return
			}
		}
	}()
	return out
}

// CombineLatest2 is CombineLatest for two inputs of different types: it sends f(a, b) of the
// latest items of a and b, once both have sent an item and then for every later item of
// either. It closes when both inputs have closed, when one closes before it ever sent an
// item, or when ctx ends.
func CombineLatest2[A, B, R any](ctx context.Context, a <-chan A, b <-chan B, f func(A, B) R) <-chan R {
	mustContext(ctx, "CombineLatest2")
	mustFunc(f == nil, "CombineLatest2")
	out := make(chan R)
	go func() {
		defer close(out)
		var (
			va         A
			vb         B
			hasA, hasB bool
			openA      = true
			openB      = true
		)
		for openA || openB {
			select {
			case <-ctx.Done():
				return
			case v, ok := <-a:
				if !ok {
					if !hasA {
						return
					}
					a, openA = nil, false
					continue
				}
				va, hasA = v, true
			case v, ok := <-b:
				if !ok {
					if !hasB {
						return
					}
					b, openB = nil, false
					continue
				}
				vb, hasB = v, true
			}
			if hasA && hasB && !send(ctx, out, f(va, vb)) {
				return
			}
		}
	}()
	return out
}

// CombineLatest3 is CombineLatest2 for three inputs: it sends f(a, b, c) of the latest items,
// once all three have sent an item and then for every later item of any. It closes when all
// three inputs have closed, when one closes before it ever sent an item, or when ctx ends.
func CombineLatest3[A, B, C, R any](ctx context.Context, a <-chan A, b <-chan B, c <-chan C, f func(A, B, C) R) <-chan R {
	mustContext(ctx, "CombineLatest3")
	mustFunc(f == nil, "CombineLatest3")
	out := make(chan R)
	go func() {
		defer close(out)
		var (
			va               A
			vb               B
			vc               C
			hasA, hasB, hasC bool
			openA            = true
			openB            = true
			openC            = true
		)
		for openA || openB || openC {
			select {
			case <-ctx.Done():
				return
			case v, ok := <-a:
				if !ok {
					if !hasA {
						return
					}
					a, openA = nil, false
					continue
				}
				va, hasA = v, true
			case v, ok := <-b:
				if !ok {
					if !hasB {
						return
					}
					b, openB = nil, false
					continue
				}
				vb, hasB = v, true
			case v, ok := <-c:
				if !ok {
					if !hasC {
						return
					}
					c, openC = nil, false
					continue
				}
				vc, hasC = v, true
			}
			if hasA && hasB && hasC && !send(ctx, out, f(va, vb, vc)) {
				return
			}
		}
	}()
	return out
}
