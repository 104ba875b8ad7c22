package upstream_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: a call
// that outlives its ctx, a bulkhead waiter never woken, a retry timer.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
