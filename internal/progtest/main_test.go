package progtest

import (
	"testing"

	"github.com/zkmirror/zkmirror/leaktest"
)

func TestMain(m *testing.M) {
	leaktest.VerifyTestMain(m)
}
