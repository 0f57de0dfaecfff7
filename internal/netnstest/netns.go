//go:build linux

package netnstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// CmdTimeout bounds every command this package runs.
const CmdTimeout = 30 * time.Second

// NS is a named network namespace of the test's own.
type NS struct {
	Name   string
	handle netns.NsHandle
}

// RequireRoot skips t unless it runs as root and ip(8) is in PATH. why says
// what needs root, e.g. "creates network namespaces".
func RequireRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: " + why)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (iproute2)")
	}
}

// New creates the namespace prefix-<random hex> and deletes it when the
// test ends. It skips t when the kernel refuses to create it.
func New(t testing.TB, prefix string) *NS {
	t.Helper()
	return create(t, prefix+"-"+randomHex(t))
}

func create(t testing.TB, name string) *NS {
	t.Helper()
	out, err := run(nil, "ip", "netns", "add", name)
	if err != nil {
		if strings.Contains(out, "not permitted") || errors.Is(err, os.ErrPermission) {
			t.Skipf("needs root: creates network namespaces (ip netns add: %s)", strings.TrimSpace(out))
		}
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := run(nil, "ip", "netns", "del", name); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	h, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("open netns %s: %v", name, err)
	}
	t.Cleanup(func() { h.Close() }) // runs before the namespace is deleted
	return &NS{Name: name, handle: h}
}

// Handle is an open handle to the namespace, valid until the test ends.
func (n *NS) Handle() netns.NsHandle { return n.handle }

// Command is `ip netns exec <n> args...`, for callers that want the
// command's streams or exit status apart.
func (n *NS) Command(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name}, args...)...)
}

// Exec runs a command inside the namespace and returns its combined output.
func (n *NS) Exec(args ...string) (string, error) {
	return run(n, args...)
}

// Must runs a command inside the namespace and fails t unless it succeeds.
func (n *NS) Must(t testing.TB, args ...string) string {
	t.Helper()
	out, err := n.Exec(args...)
	if err != nil {
		t.Fatalf("in %s: %s: %v: %s", n.Name, strings.Join(args, " "), err, out)
	}
	return out
}

// IP runs `ip -n <n> args...` and fails t unless it succeeds.
func (n *NS) IP(t testing.TB, args ...string) string {
	t.Helper()
	out, err := run(nil, append([]string{"ip", "-n", n.Name}, args...)...)
	if err != nil {
		t.Fatalf("ip -n %s %s: %v: %s", n.Name, strings.Join(args, " "), err, out)
	}
	return out
}

// Do runs fn on a fresh goroutine whose OS thread is in the namespace, and
// returns fn's error. The thread stays locked: when the goroutine exits the
// runtime ends it instead of reusing it outside the namespace. fn runs on
// another goroutine, so it must not call t.Fatal.
func (n *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(n.handle); err != nil {
			errc <- fmt.Errorf("enter netns %s: %w", n.Name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// Sysctl sets a net.* sysctl, e.g. "net.ipv6.conf.eth0.accept_dad", inside
// the namespace; those are per namespace, so the host keeps its own.
func (n *NS) Sysctl(t testing.TB, key, value string) {
	t.Helper()
	path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	// /proc/sys/net resolves in the namespace of the thread that opens it.
	if err := n.Do(func() error { return os.WriteFile(path, []byte(value), 0o644) }); err != nil {
		t.Fatalf("in %s: sysctl %s=%s: %v", n.Name, key, value, err)
	}
}

// run runs args, inside n unless n is nil, and returns the combined output.
func run(n *NS, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), CmdTimeout)
	defer cancel()
	var cmd *exec.Cmd
	switch {
	case n != nil:
		cmd = n.Command(ctx, args...)
	case len(args) > 0:
		cmd = exec.CommandContext(ctx, args[0], args[1:]...)
	default:
		return "", errors.New("no command")
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func randomHex(t testing.TB) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
