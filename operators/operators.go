package operators

import (
	"context"
)

// mustContext panics if ctx is nil; op names the operator in the message.
func mustContext(ctx context.Context, op string) {
	if ctx == nil {
		panic("operators: " + op + " called with nil context")
	}
}

// mustFunc panics if a function argument is nil; op names the operator in the message.
func mustFunc(isNil bool, op string) {
	if isNil {
		panic("operators: " + op + " called with nil func")
	}
}

// send delivers v on out unless ctx has ended. It reports whether v was delivered; false
// means the caller must stop. A ctx already ended when send is called delivers nothing, even
// to a reader that is ready.
func send[T any](ctx context.Context, out chan<- T, v T) bool {
	if ctx.Err() != nil {
		return false
	}
	select {
	case out <- v:
		return true
	case <-ctx.Done():
		return false
	}
}

// recv takes the next item of in. ok is false when in is closed or ctx has ended.
func recv[T any](ctx context.Context, in <-chan T) (v T, ok bool) {
	select {
	case v, ok = <-in:
		return v, ok
	case <-ctx.Done():
		return v, false
	}
}

// Map returns a channel of f applied to each item of in, in order. Nothing is dropped. The
// output closes when in closes or ctx ends.
func Map[A, B any](ctx context.Context, in <-chan A, f func(A) B) <-chan B {
	mustContext(ctx, "Map")
	mustFunc(f == nil, "Map")
	out := make(chan B)
	go func() {
		defer close(out)
		for {
			a, ok := recv(ctx, in)
			if !ok || !send(ctx, out, f(a)) {
				return
			}
		}
	}()
	return out
}

// Filter returns a channel of the items of in for which keep returns true, in order. The
// output closes when in closes or ctx ends.
func Filter[T any](ctx context.Context, in <-chan T, keep func(T) bool) <-chan T {
	mustContext(ctx, "Filter")
	mustFunc(keep == nil, "Filter")
	out := make(chan T)
	go func() {
		defer close(out)
		for {
			v, ok := recv(ctx, in)
			if !ok {
				return
			}
			if keep(v) && !send(ctx, out, v) {
				return
			}
		}
	}()
	return out
}

// Scan returns a channel of running accumulations: for each item v of in, acc = f(acc, v)
// is sent, acc starting at seed. The seed itself is not sent. Nothing is dropped. The output
// closes when in closes or ctx ends.
func Scan[T, A any](ctx context.Context, in <-chan T, seed A, f func(A, T) A) <-chan A {
	mustContext(ctx, "Scan")
	mustFunc(f == nil, "Scan")
	out := make(chan A)
	go func() {
		defer close(out)
		acc := seed
		for {
			v, ok := recv(ctx, in)
			if !ok {
				return
			}
			acc = f(acc, v)
			if !send(ctx, out, acc) {
				return
			}
		}
	}()
	return out
}

// Distinct returns a channel of the items of in, in order, without consecutive duplicates:
// an item equal (==) to the item sent just before it is dropped. An item equal to an earlier,
// but not the previous, item is sent. The output closes when in closes or ctx ends.
func Distinct[T comparable](ctx context.Context, in <-chan T) <-chan T {
	mustContext(ctx, "Distinct")
	return distinct(ctx, in, func(a, b T) bool { return a == b })
}

// DistinctFunc is Distinct with eq deciding equality: an item v is dropped when
// eq(previous, v) is true, previous being the last item sent.
func DistinctFunc[T any](ctx context.Context, in <-chan T, eq func(a, b T) bool) <-chan T {
	mustContext(ctx, "DistinctFunc")
	mustFunc(eq == nil, "DistinctFunc")
	return distinct(ctx, in, eq)
}

func distinct[T any](ctx context.Context, in <-chan T, eq func(a, b T) bool) <-chan T {
	out := make(chan T)
	go func() {
		defer close(out)
		var last T
		has := false
		for {
			v, ok := recv(ctx, in)
			if !ok {
				return
			}
			if has && eq(last, v) {
				continue
			}
			last, has = v, true
			if !send(ctx, out, v) {
				return
			}
		}
	}()
	return out
}
