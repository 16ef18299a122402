package zkmirror_test

import (
	"context"
	"fmt"
	"time"

	"github.com/zkmirror/zkmirror"
)

// servers is the ZooKeeper the examples talk to (started by TestMain).
var servers []string

func Example() {
	m, err := zkmirror.Connect(servers)
	if err != nil {
		panic(err)
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	node, _ := m.Node("/example/config")
	defer node.Close()
	updates := node.Watch(ctx) // current state first, then changes

	fmt.Println("exists:", (<-updates).Exists)
	parent, _ := m.Node("/example")
	defer parent.Close()
	parent.Create(ctx, nil)
	node.Create(ctx, []byte(`{"replicas": 3}`))
	v := <-updates
	fmt.Printf("%s version %d\n", v.Data, v.Stat.Version)

	node.Set(ctx, []byte(`{"replicas": 5}`), v.Stat.Version)
	// Read your writes: Value answers from the mirror, already updated.
	v, _ = node.Value(ctx)
	fmt.Printf("%s version %d\n", v.Data, v.Stat.Version)

	node.Delete(ctx, -1)
	parent.Delete(ctx, -1)
	// Output:
	// exists: false
	// {"replicas": 3} version 0
	// {"replicas": 5} version 1
}

func ExampleNode_Value() {
	m, _ := zkmirror.Connect(servers)
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	node, _ := m.Node("/no/such/node")
	_, err := node.Value(ctx)
	fmt.Println(err)
	// Output:
	// zkmirror: value /no/such/node: node does not exist
}

func ExampleMirror_Tree() {
	m, _ := zkmirror.Connect(servers)
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	root, _ := m.Node("/services")
	root.Create(ctx, nil)
	for _, name := range []string{"api", "web"} {
		n, _ := m.Node("/services/" + name)
		n.Create(ctx, []byte(name+".internal:8080"))
	}

	tree, _ := m.Tree("/services")
	defer tree.Close()
	if err := tree.Synced(ctx); err != nil {
		panic(err)
	}
	names, _ := tree.Children("/services")
	for _, name := range names {
		v, _ := tree.Get("/services/" + name)
		fmt.Printf("%s → %s\n", name, v.Data)
	}
	fmt.Println("nodes:", tree.Len())
	// Output:
	// api → api.internal:8080
	// web → web.internal:8080
	// nodes: 3
}
