package operators

import (
	"context"
	"time"
)

// passThrough returns a channel that sends every item of in, in order, dropping none, and
// closes when in closes or ctx ends. It is Debounce and Throttle without a delay.
func passThrough[T any](ctx context.Context, in <-chan T) <-chan T {
	out := make(chan T)
	go func() {
		defer close(out)
		for {
			v, ok := recv(ctx, in)
			if !ok || !send(ctx, out, v) {
				return
			}
		}
	}()
	return out
}

// Debounce returns a channel that sends an item of in once in has been quiet for the given
// duration after it: of a burst of items less than quiet apart, only the last is sent, quiet
// after it arrived (trailing debounce). The other items of the burst are dropped. Items sent
// keep their order.
//
// When in closes, the item still waiting for its quiet period, if any, is sent at once; then
// the output closes. The output also closes when ctx ends, and the waiting item is then
// dropped.
//
// A quiet period of zero or less means no delay: every item of in is sent, in order, and
// none is dropped; the output closes when in closes or ctx ends.
func Debounce[T any](ctx context.Context, in <-chan T, quiet time.Duration) <-chan T {
	mustContext(ctx, "Debounce")
	if quiet <= 0 {
		return passThrough(ctx, in)
	}
	out := make(chan T)
	go func() {
		defer close(out)
		// The module requires Go 1.23 or later, so Reset and Stop discard any expiry not yet
		// received: timer.C never yields a stale tick.
		timer := time.NewTimer(quiet)
		timer.Stop()
		defer timer.Stop()
		var pending T
		has := false
		for {
			var fire <-chan time.Time
			if has {
				fire = timer.C
			}
			select {
			case <-ctx.Done():
				return
			case v, ok := <-in:
				if !ok {
					if has {
						send(ctx, out, pending)
					}
					return
				}
				pending, has = v, true
				timer.Reset(quiet)
			case <-fire:
				v := pending
				var zero T
				pending, has = zero, false
				if !send(ctx, out, v) {
					return
				}
			}
		}
	}()
	return out
}

// Throttle returns a channel that sends at most one item per interval of the given length.
// An item arriving while no interval runs is sent at once and starts an interval. Items
// arriving during an interval are held; when the interval ends, the latest of them is sent
// and starts the next interval, and the others are dropped. An interval during which nothing
// arrived ends the throttling: the next item is sent at once again. Two items are sent at
// least every apart, measured from the moment the reader took the first, except for the
// final item below. Items sent keep their order.
//
// When in closes, the held item, if any, is sent at once; then the output closes. The output
// also closes when ctx ends, and the held item is then dropped.
//
// An interval of zero or less means no throttling: every item of in is sent, in order, and
// none is dropped; the output closes when in closes or ctx ends.
func Throttle[T any](ctx context.Context, in <-chan T, every time.Duration) <-chan T {
	mustContext(ctx, "Throttle")
	if every <= 0 {
		return passThrough(ctx, in)
	}
	out := make(chan T)
	go func() {
		defer close(out)
		// Reset and Stop discard unreceived expiries (Go 1.23 timers), see Debounce.
		timer := time.NewTimer(every)
		timer.Stop()
		defer timer.Stop()
		running := false // an interval is running: timer is armed
		var held T
		has := false
		for {
			var fire <-chan time.Time
			if running {
				fire = timer.C
			}
			select {
			case <-ctx.Done():
				return
			case v, ok := <-in:
				if !ok {
					if has {
						send(ctx, out, held)
					}
					return
				}
				if running {
					held, has = v, true
					continue
				}
				if !send(ctx, out, v) {
					return
				}
				running = true
				timer.Reset(every)
			case <-fire:
				if !has {
					running = false
					continue
				}
				v := held
				var zero T
				held, has = zero, false
				if !send(ctx, out, v) {
					return
				}
				timer.Reset(every)
			}
		}
	}()
	return out
}
