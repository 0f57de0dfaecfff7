package e2e

import (
	"testing"

	"github.com/vipkeeper/vipkeeper/e2e/lab"
)

// TestMain lets the lab re-execute this binary as its helpers and tear every
// lab down on Ctrl-C.
func TestMain(m *testing.M) { lab.Main(m) }
