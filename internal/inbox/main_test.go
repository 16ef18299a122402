package inbox

import (
	"testing"

	"github.com/zkmirror/zkmirror/leaktest"
)

// TestMain fails the package's tests if a goroutine outlives them.
func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }
