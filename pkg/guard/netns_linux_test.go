//go:build linux

package guard

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/netnstest"
)

func waitLinkUp(t *testing.T, ns *netnstest.NS, ifname string) {
	t.Helper()
	netnstest.WaitFor(t, 3*time.Second, "link "+ifname+" up in "+ns.Name, func() (bool, string) {
		out := ns.IP(t, "link", "show", ifname)
		return strings.Contains(out, "LOWER_UP"), out
	})
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
