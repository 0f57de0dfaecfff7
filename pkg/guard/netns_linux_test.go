//go:build linux

package guard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// setNetns moves the calling, locked thread into the named namespace.
func setNetns(name string) error {
	h, err := netns.GetFromName(name)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", name, err)
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		return fmt.Errorf("enter netns %s: %w", name, err)
	}
	return nil
}

// addNetns creates a named network namespace and deletes it at cleanup,
// skipping the test when the kernel refuses.
func addNetns(t *testing.T, name string) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "add", name).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "not permitted") || errors.Is(err, os.ErrPermission) {
			t.Skipf("needs permission to create network namespaces (EPERM): %s", out)
		}
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
}

func waitLinkUp(t *testing.T, ns, ifname string) {
	t.Helper()
	waitFor(t, "link "+ifname+" up in "+ns, func() (bool, string) {
		out := ipOut(t, "-n", ns, "link", "show", ifname)
		return strings.Contains(out, "LOWER_UP"), out
	})
}

// waitFor polls cond every 20 ms for at most 3 s.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 3s waiting for %s; last: %s", what, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mustIP(t *testing.T, args ...string) {
	t.Helper()
	mustRun(t, "ip", args...)
}

func mustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	_ = runOut(t, name, args...)
}

func ipOut(t *testing.T, args ...string) string {
	t.Helper()
	return runOut(t, "ip", args...)
}

func runOut(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// testLogger logs to t.Log at debug level, tagged with the side.
func testLogger(t *testing.T, side string) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})).With("side", side)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

var _ io.Writer = testWriter{}
