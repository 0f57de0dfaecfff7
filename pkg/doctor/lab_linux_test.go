package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/netnstest"
)

// Time limits of the lab test: building the binary may compile the module
// from a cold cache; every other command is one netlink or sysctl call.
const (
	labBuildTimeout = 5 * time.Minute
	labCmdTimeout   = 30 * time.Second
)

// lab is a network namespace of its own with a veth pair, vkd0 (the VIP
// interface, 192.0.2.10/24 and the default route) and vkd1 (its peer).
type lab struct {
	t      *testing.T
	ns     *netnstest.NS
	binary string
}

// TestLabDoctor runs the real `vipkeeper doctor` binary inside a network
// namespace with real sysctls. net.* sysctls are per namespace, so the host
// is not touched. It needs root; it sends no traffic beyond the veth pair.
func TestLabDoctor(t *testing.T) {
	l := newLab(t)
	netnstest.Veth(t, l.ns, l.ns, "vkd0", "vkd1")
	l.ip("link", "set", "vkd0", "up")
	l.ip("link", "set", "vkd1", "up")
	l.ip("addr", "add", "192.0.2.10/24", "dev", "vkd0")
	l.ip("route", "add", "default", "via", "192.0.2.1", "dev", "vkd0")
	l.sysctl("net.ipv4.conf.all.arp_ignore=0", "net.ipv4.conf.vkd0.arp_ignore=1", "net.ipv4.ip_nonlocal_bind=1")
	conntrack := l.has("net.netfilter.nf_conntrack_tcp_be_liberal")
	if conntrack {
		l.sysctl("net.netfilter.nf_conntrack_tcp_be_liberal=0")
	}

	// No --interface: the default route's, vkd0.
	r, code := l.doctor("-o", "json")
	l.expect(r, "net.ipv4.conf.vkd0.arp_ignore", "1 (all=0, vkd0=1)", OK)
	l.expect(r, "net.ipv4.ip_nonlocal_bind", "1", OK)
	l.expect(r, "/sys/class/net/vkd0/carrier", "1", OK)
	l.expect(r, "/sys/class/net/vkd0/operstate", "up", OK)
	if conntrack {
		l.expect(r, "net.netfilter.nf_conntrack_tcp_be_liberal", "0", Warning)
	}
	l.expectExit(r, code)

	if conntrack {
		l.run(l.binary, "doctor", "--apply", "be_liberal")
		if got := l.sysctlValue("net.netfilter.nf_conntrack_tcp_be_liberal"); got != "1" {
			t.Errorf("after --apply be_liberal: be_liberal = %s, want 1", got)
		}
		if got := l.sysctlValue("net.ipv4.conf.all.arp_ignore"); got != "0" {
			t.Errorf("--apply be_liberal changed conf.all.arp_ignore to %s", got)
		}
		r, code = l.doctor("-o", "json", "--interface", "vkd0")
		l.expect(r, "net.netfilter.nf_conntrack_tcp_be_liberal", "1", OK)
		l.expectExit(r, code)
	}

	// The peer goes down: no carrier on vkd0, an error.
	l.ip("link", "set", "vkd1", "down")
	r, code = l.doctor("-o", "json", "--interface", "vkd0")
	l.expect(r, "/sys/class/net/vkd0/carrier", "0", Error)
	if code != 2 {
		t.Errorf("doctor with the peer down: exit %d, want 2", code)
	}
}

func newLab(t *testing.T) *lab {
	t.Helper()
	netnstest.RequireRoot(t, "creates a network namespace (run: sudo go test ./pkg/doctor -run Lab)")
	if _, err := exec.LookPath("sysctl"); err != nil {
		t.Skip("lab test skipped: no sysctl(8) in PATH")
	}
	l := &lab{t: t, ns: netnstest.New(t, "vkdoc")}
	l.binary = buildBinary(t)
	return l
}

// buildBinary builds ./cmd/vipkeeper from the repository root.
func buildBinary(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "vipkeeper")
	ctx, cancel := context.WithTimeout(context.Background(), labBuildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/vipkeeper")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/vipkeeper: %v\n%s", err, out)
	}
	return bin
}

// exec runs a command inside the namespace.
func (l *lab) exec(args ...string) (stdout, stderr string, code int, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), labCmdTimeout)
	defer cancel()
	cmd := l.ns.Command(ctx, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), errOut.String(), ee.ExitCode(), nil
	}
	return out.String(), errOut.String(), 0, err
}

// run runs a command in the namespace that must succeed.
func (l *lab) run(args ...string) string {
	l.t.Helper()
	out, errOut, code, err := l.exec(args...)
	if err != nil || code != 0 {
		l.t.Fatalf("%s: exit %d, %v\n%s%s", strings.Join(args, " "), code, err, out, errOut)
	}
	return out
}

func (l *lab) ip(args ...string) { l.t.Helper(); l.ns.IP(l.t, args...) }

func (l *lab) sysctl(assignments ...string) {
	l.t.Helper()
	for _, a := range assignments {
		key, value, _ := strings.Cut(a, "=")
		l.ns.Sysctl(l.t, key, value)
	}
}

func (l *lab) sysctlValue(name string) string {
	l.t.Helper()
	return strings.TrimSpace(l.run("sysctl", "-n", name))
}

func (l *lab) has(name string) bool {
	_, _, code, err := l.exec("sysctl", "-n", name)
	return err == nil && code == 0
}

// doctor runs `vipkeeper doctor` in the namespace and decodes its report.
func (l *lab) doctor(args ...string) (Report, int) {
	l.t.Helper()
	out, errOut, code, err := l.exec(append([]string{l.binary, "doctor"}, args...)...)
	if err != nil {
		l.t.Fatalf("vipkeeper doctor: %v\n%s", err, errOut)
	}
	var r Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		l.t.Fatalf("vipkeeper doctor %s: exit %d, output is not a report: %v\n%s\n%s", strings.Join(args, " "), code, err, out, errOut)
	}
	return r, code
}

func (l *lab) expect(r Report, setting, current string, sev Severity) {
	l.t.Helper()
	for _, f := range r.Findings {
		if f.Setting == setting {
			if f.Current != current || f.Severity != sev {
				l.t.Errorf("%s: %q %v, want %q %v (%s)", setting, f.Current, f.Severity, current, sev, f.Why)
			}
			return
		}
	}
	l.t.Errorf("no finding for %s in %+v", setting, r.Findings)
}

// expectExit checks that the exit status follows the worst finding.
func (l *lab) expectExit(r Report, code int) {
	l.t.Helper()
	want := map[Severity]int{OK: 0, Info: 0, Warning: 1, Error: 2}[r.Worst]
	if code != want || r.Worst != Worst(r.Findings) {
		l.t.Errorf("exit %d with worst %v (recomputed %v), want %d", code, r.Worst, Worst(r.Findings), want)
	}
}
