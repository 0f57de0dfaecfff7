package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vipkeeper/vipkeeper/pkg/doctor"
)

// The node profiles of pkg/doctor.
func fixture(profile string) string { return filepath.Join("..", "doctor", "testdata", profile) }

func runDoctor(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(context.Background(), append([]string{"doctor"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestDoctorExitStatus(t *testing.T) {
	for _, tc := range []struct {
		profile string
		want    int
	}{
		{"good", 0},
		{"no-conntrack", 0}, // info only
		{"ipvs-no-sloppy", 1},
		{"conntrack-strict", 1},
		{"interface-down", 2},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			code, out, errOut := runDoctor(t, "--root", fixture(tc.profile), "--interface", "eth0")
			if code != tc.want {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.want, out, errOut)
			}
			if !strings.HasPrefix(out, "SEVERITY") {
				t.Errorf("stdout does not start with the table header:\n%s", out)
			}
		})
	}
}

func TestDoctorJSONAndDefaultInterface(t *testing.T) {
	code, out, errOut := runDoctor(t, "--root", fixture("ipvs-no-sloppy"), "-o", "json")
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr: %s", code, errOut)
	}
	var r doctor.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s", err, out)
	}
	if r.Worst != doctor.Warning || len(r.Findings) == 0 || r.Findings[0].Setting != "/sys/class/net/eth0" {
		t.Errorf("report: worst %v, first finding %+v; want warning, eth0 from the default route", r.Worst, r.Findings[0])
	}
	if !strings.Contains(errOut, "checking eth0, the interface of the default route") {
		t.Errorf("stderr %q does not say which interface was taken", errOut)
	}
}

func TestDoctorBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // the flag the one line names
	}{
		{[]string{"--bogus"}, "--bogus"},
		{[]string{"-o", "yaml"}, "--output"},
		{[]string{"--sysctl-d"}, "--sysctl-d"},
		{[]string{"--apply", "be_liberal,nope"}, "--apply"},
		{[]string{"--apply", "be_liberal", "--kubeconfig", "k"}, "--kubeconfig"},
		{[]string{"--root", fixture("no-conntrack")}, "--interface"}, // no default route
		{[]string{"--interface", "eth0", "--kubeconfig", "/nonexistent/kubeconfig", "--root", fixture("good")}, "--kubeconfig"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"--apply", ""}, "--apply"},
	} {
		code, out, errOut := runDoctor(t, tc.args...)
		if code != 2 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("doctor %q: exit %d, stdout %q, stderr %q; want 2 and one line naming %s", tc.args, code, out, errOut, tc.want)
		}
	}
}

func TestDoctorApply(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(fixture("ipvs-no-sloppy"))); err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	// --sysctl-d writes nothing.
	code, out, errOut := runDoctor(t, "--root", root, "--apply", "sloppy_tcp", "--sysctl-d")
	if code != 0 || !strings.Contains(out, "\n-net.ipv4.vs.sloppy_tcp = 1\n") {
		t.Errorf("--sysctl-d: exit %d, stdout:\n%s\nstderr: %s", code, out, errOut)
	}
	if got := read("proc/sys/net/ipv4/vs/sloppy_tcp"); got != "0\n" {
		t.Errorf("--sysctl-d wrote sloppy_tcp = %q", got)
	}

	code, out, errOut = runDoctor(t, "--root", root, "--apply", "sloppy_tcp,be_liberal")
	want := "net.ipv4.vs.sloppy_tcp: 0 -> 1\nnet.netfilter.nf_conntrack_tcp_be_liberal: 0 -> 1\n"
	if code != 0 || out != want {
		t.Errorf("--apply: exit %d, stdout %q, want %q; stderr: %s", code, out, want, errOut)
	}
	if read("proc/sys/net/ipv4/vs/sloppy_tcp") != "1\n" || read("proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal") != "1\n" {
		t.Error("--apply did not write both settings")
	}
	if got := read("proc/sys/net/ipv4/conf/eth0/arp_ignore"); got != "0\n" {
		t.Errorf("--apply changed arp_ignore, which was not named: %q", got)
	}
	// Applying again changes nothing; the check now finds no warning left
	// from those two.
	code, out, _ = runDoctor(t, "--root", root, "--apply", "sloppy_tcp", "-o", "json")
	var changes []doctor.Change
	if err := json.Unmarshal([]byte(out), &changes); code != 0 || err != nil || len(changes) != 1 || changes[0].Changed() {
		t.Errorf("second --apply: exit %d, %v, changes %+v; want one unchanged", code, err, changes)
	}
}
