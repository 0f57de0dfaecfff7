package lab

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// cmdTimeout bounds every ip/iptables/sysctl invocation; they take
// milliseconds, so a hang means something is badly wrong.
const cmdTimeout = 20 * time.Second

// NS is a named network namespace the lab created.
type NS struct {
	Name   string
	handle netns.NsHandle

	nlMu sync.Mutex      // guards nl: a netlink.Handle is not safe for concurrent use
	nl   *netlink.Handle // netlink socket opened inside the namespace
}

// withNetlink runs f with the namespace's netlink handle, one caller at a time.
func (ns *NS) withNetlink(f func(*netlink.Handle) error) error {
	ns.nlMu.Lock()
	defer ns.nlMu.Unlock()
	if ns.nl == nil {
		return fmt.Errorf("netns %s: closed", ns.Name)
	}
	return f(ns.nl)
}

// newNS creates the namespace and opens a handle and a netlink socket in it.
func newNS(name string) (*NS, error) {
	if err := run("ip", "netns", "add", name); err != nil {
		return nil, err
	}
	ns := &NS{Name: name, handle: -1}
	h, err := netns.GetFromName(name)
	if err != nil {
		return ns, fmt.Errorf("open netns %s: %w", name, err)
	}
	ns.handle = h
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		return ns, fmt.Errorf("netlink in %s: %w", name, err)
	}
	ns.nl = nl
	return ns, nil
}

// close releases the handles; deleting the namespace is deleteNS's job.
func (ns *NS) close() {
	ns.nlMu.Lock()
	defer ns.nlMu.Unlock()
	if ns.nl != nil {
		ns.nl.Close()
		ns.nl = nil
	}
	if ns.handle >= 0 {
		ns.handle.Close()
		ns.handle = -1
	}
}

// deleteNS removes a namespace by name; a missing one is not an error.
func deleteNS(name string) error {
	out, err := output("ip", "netns", "del", name)
	if err != nil && !strings.Contains(out, "No such file") {
		return fmt.Errorf("ip netns del %s: %w: %s", name, err, out)
	}
	return nil
}

// IP runs `ip -n <ns> args...`.
func (ns *NS) IP(args ...string) error {
	return run("ip", append([]string{"-n", ns.Name}, args...)...)
}

// Exec runs a command inside the namespace and returns its combined output.
func (ns *NS) Exec(name string, args ...string) (string, error) {
	return output("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Sysctl sets kernel parameters inside the namespace ("key=value" each).
func (ns *NS) Sysctl(kv ...string) error {
	_, err := ns.Exec("sysctl", append([]string{"-q", "-w"}, kv...)...)
	return err
}

// Do runs f on an OS thread switched into the namespace. Sockets f creates
// stay in the namespace after f returns. The thread is switched back before
// it is released; if that fails the thread is left locked, so the runtime
// discards it instead of reusing it in the wrong namespace.
func (ns *NS) Do(f func() error) error {
	type result struct{ err error }
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			done <- result{fmt.Errorf("get current netns: %w", err)}
			return // goroutine exits locked: thread discarded
		}
		defer orig.Close()
		if err := netns.Set(ns.handle); err != nil {
			done <- result{fmt.Errorf("enter %s: %w", ns.Name, err)}
			return
		}
		ferr := f()
		if err := netns.Set(orig); err != nil {
			done <- result{fmt.Errorf("leave %s: %w (after %v)", ns.Name, err, ferr)}
			return
		}
		runtime.UnlockOSThread()
		done <- result{ferr}
	}()
	return (<-done).err
}

// DialContext connects from inside the namespace; use it as an
// http.Transport's DialContext.
func (ns *NS) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := ns.Do(func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// run executes a command with a bounded time and folds its output into the
// error.
func run(name string, args ...string) error {
	out, err := output(name, args...)
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out))
	}
	return nil
}

func output(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	var b bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}
