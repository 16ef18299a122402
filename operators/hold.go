package operators

import (
	"context"

	"github.com/zkmirror/zkmirror"
)

// Hold returns a Stream that holds the latest item of in: each item is published into it as
// it arrives, so Latest answers with it, Wait returns once the first item arrived, and
// Subscribe hands it to any number of readers. Hold never waits for a reader; as for every
// Stream, a slow subscriber skips to the latest item.
//
// The Stream closes (its subscriptions end, Wait without an item returns ErrClosed, Latest
// keeps answering) when in closes or ctx ends.
func Hold[T any](ctx context.Context, in <-chan T) *zkmirror.Stream[T] {
	mustContext(ctx, "Hold")
	s, pub := zkmirror.NewStream[T]()
	go func() {
		defer pub.Close()
		for {
			v, ok := recv(ctx, in)
			if !ok {
				return
			}
			pub.Publish(v)
		}
	}()
	return s
}
