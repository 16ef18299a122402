package operators_test

import (
	"testing"

	"github.com/zkmirror/zkmirror/internal/zktest"
)

// zkc is the standalone ZooKeeper server the end-to-end tests share.
var zkc *zktest.Cluster

// TestMain starts the server, runs the tests and checks, with leaktest, that no goroutine
// is left running.
func TestMain(m *testing.M) {
	zktest.Main(m, zktest.Options{}, func(c *zktest.Cluster) { zkc = c })
}
