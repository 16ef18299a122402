package zkmirror_test

import (
	"errors"
	"testing"
	"time"

	"github.com/zkmirror/zkmirror"
	"github.com/zkmirror/zkmirror/leaktest"
)

func TestValueExistingAndMissing(t *testing.T) {
	leaktest.Check(t)
	m := connect(t)
	p := uniquePath(t)
	raw := rawClient(t)
	if _, err := raw.Create(p, []byte("hello"), 0, worldACL); err != nil {
		t.Fatal(err)
	}
	n := mustNode(t, m, p)
	v, err := n.Value(ctxT(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if string(v.Data) != "hello" || !v.Exists || v.Path != p || v.Stat.Czxid == 0 {
		t.Fatalf("got %+v", v)
	}
	missing := mustNode(t, m, p+"/nope")
	v, err = missing.Value(ctxT(t, 10*time.Second))
	if !errors.Is(err, zkmirror.ErrNoNode) || v.Exists {
		t.Fatalf("missing: %+v %v", v, err)
	}
	c, err := n.Children(ctxT(t, 10*time.Second))
	if err != nil || len(c.Names) != 0 || !c.Exists {
		t.Fatalf("children: %+v %v", c, err)
	}
}
