//go:build linux

package netnstest

import (
	"testing"
	"time"
)

// pollInterval is how often WaitFor asks the kernel again.
const pollInterval = 20 * time.Millisecond

// WaitFor polls cond every 20 ms until it holds, and fails t after timeout.
// cond's string is its last observation, for the failure message.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for i := int64(0); i <= int64(timeout/pollInterval)+1; i++ {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(pollInterval)
	}
	if last == "" {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
	t.Fatalf("timed out after %v waiting for %s; last: %q", timeout, what, last)
}
