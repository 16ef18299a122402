package zkmirror_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/leaktest"
)

func TestStreamBasics(t *testing.T) {
	leaktest.Check(t)
	s, pub := zkmirror.NewStream[int]()
	if _, ok := s.Latest(); ok {
		t.Fatal("latest of an empty stream")
	}
	if _, err := s.Wait(ctxT(t, 20*time.Millisecond)); !errors.Is(err, zkmirror.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait on empty: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	early := s.Subscribe(ctx)
	pub.Publish(1)
	if v := recv(t, early, time.Second); v != 1 {
		t.Fatal(v)
	}
	late := s.Subscribe(ctx)
	if v := recv(t, late, time.Second); v != 1 {
		t.Fatalf("late subscriber: latest first, got %d", v)
	}
	for i := 2; i <= 100; i++ {
		pub.Publish(i)
	}
	if v := recv(t, early, time.Second); v != 100 {
		t.Fatalf("conflated: got %d, want 100", v)
	}
	select {
	case v := <-early:
		t.Fatalf("backlog %d", v)
	default:
	}
	if v, err := s.Wait(ctx); err != nil || v != 100 {
		t.Fatal(v, err)
	}
	cancel()
	drainClosed(t, early)
	drainClosed(t, late)
	pub.Close()
	pub.Close()
	pub.Publish(101) // ignored
	if v, ok := s.Latest(); !ok || v != 100 {
		t.Fatal(v, ok)
	}
	if ch := s.Subscribe(context.Background()); !isClosed(ch) {
		t.Fatal("subscribe after close")
	}
	s2, pub2 := zkmirror.NewStream[int]()
	go func() { time.Sleep(10 * time.Millisecond); pub2.Close() }()
	if _, err := s2.Wait(context.Background()); !errors.Is(err, zkmirror.ErrClosed) {
		t.Fatalf("wait on a stream closed empty: %v", err)
	}
}

func TestStreamManySubscribersNoGoroutines(t *testing.T) {
	leaktest.Check(t)
	s, pub := zkmirror.NewStream[int]()
	defer pub.Close()
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	chans := make([]<-chan int, 10000)
	for i := range chans {
		chans[i] = s.Subscribe(ctx)
	}
	if d := runtime.NumGoroutine() - before; d > 2 {
		t.Fatalf("10000 subscribers cost %d goroutines", d)
	}
	pub.Publish(7)
	for _, ch := range chans {
		if v := <-ch; v != 7 {
			t.Fatal(v)
		}
	}
	cancel()
	for _, ch := range chans {
		for range ch {
		}
	}
}

func BenchmarkStreamPublish1000Subscribers(b *testing.B) {
	s, pub := zkmirror.NewStream[int]()
	defer pub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range 1000 {
		s.Subscribe(ctx)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		pub.Publish(i)
	}
}

func BenchmarkStreamSubscribeCancel(b *testing.B) {
	s, pub := zkmirror.NewStream[int]()
	defer pub.Close()
	pub.Publish(1)
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		ch := s.Subscribe(ctx)
		<-ch
		cancel()
		for range ch {
		}
	}
}
