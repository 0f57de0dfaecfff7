package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
)

var statusNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func heldLease(name, holder string, acquired, renewed time.Duration, transitions int32) *coordinationv1.Lease {
	micro := func(d time.Duration) *metav1.MicroTime { t := metav1.NewMicroTime(statusNow.Add(-d)); return &t }
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system"},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       &holder,
			LeaseDurationSeconds: ptr(int32(5)),
			AcquireTime:          micro(acquired),
			RenewTime:            micro(renewed),
			LeaseTransitions:     &transitions,
		},
	}
}

// status runs `vipkeeper status` against a fake API holding leases, with
// env as the environment and "host-a" as the hostname.
func status(t *testing.T, env map[string]string, leases []*coordinationv1.Lease, args ...string) (code int, stdout, stderr string, kubeconfig string) {
	t.Helper()
	cs := fake.NewClientset()
	for _, l := range leases {
		if _, err := cs.CoordinationV1().Leases(l.Namespace).Create(context.Background(), l, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	d := statusDeps{
		lookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		hostname:  func() (string, error) { return "host-a", nil },
		leases: func(k string) (coordinationv1client.LeasesGetter, error) {
			kubeconfig = k
			if k == "/missing" {
				return nil, errors.New("stat /missing: no such file or directory")
			}
			return cs.CoordinationV1(), nil
		},
		now: func() time.Time { return statusNow },
	}
	var out, errOut bytes.Buffer
	code = runStatus(context.Background(), args, &out, &errOut, d)
	return code, out.String(), errOut.String(), kubeconfig
}

func TestStatusTable(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		lease *coordinationv1.Lease
		args  []string
		want  string
	}{
		{"held by this node", nil, heldLease("vipkeeper", "host-a", 3*time.Hour+25*time.Second, 412*time.Millisecond, 7), nil, `
LEASE                  HOLDER  THIS NODE  HELD FOR  TRANSITIONS  RENEWED    DURATION
kube-system/vipkeeper  host-a  yes        3h0m25s   7            412ms ago  5s
`},
		{"held by another", nil, heldLease("vipkeeper", "n2", 42*time.Second, time.Second, 1), []string{"--node-name", "n1"}, `
LEASE                  HOLDER  THIS NODE  HELD FOR  TRANSITIONS  RENEWED  DURATION
kube-system/vipkeeper  n2      no         42s       1            1s ago   5s
`},
		{"expired", nil, heldLease("vipkeeper", "n2", 10*time.Minute, 2*time.Minute, 3), nil, `
LEASE                  HOLDER        THIS NODE  HELD FOR  TRANSITIONS  RENEWED   DURATION
kube-system/vipkeeper  n2 (expired)  no         10m0s     3            2m0s ago  5s
`},
		{"released", nil, heldLease("vipkeeper", "", time.Minute, 3*time.Second, 4), nil, `
LEASE                  HOLDER  THIS NODE  HELD FOR  TRANSITIONS  RENEWED  DURATION
kube-system/vipkeeper  <none>  no         -         4            3s ago   5s
`},
		{"names from the daemon's environment", map[string]string{"VIPKEEPER_LEASE_NAME": "cp", "VIPKEEPER_NODE_NAME": "n3"},
			heldLease("cp", "n3", time.Second, 0, 0), nil, `
LEASE           HOLDER  THIS NODE  HELD FOR  TRANSITIONS  RENEWED  DURATION
kube-system/cp  n3      yes        1s        0            0s ago   5s
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut, _ := status(t, tt.env, []*coordinationv1.Lease{tt.lease}, tt.args...)
			if code != exitOK {
				t.Fatalf("exit %d, stderr: %s", code, errOut)
			}
			if diff := cmp.Diff(strings.TrimPrefix(tt.want, "\n"), out); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatusJSON(t *testing.T) {
	code, out, errOut, kubeconfig := status(t, map[string]string{"VIPKEEPER_KUBECONFIG": "/etc/vipkeeper/kubeconfig"},
		[]*coordinationv1.Lease{heldLease("vipkeeper", "n2", 90*time.Second, 250*time.Millisecond, 2)}, "-o", "json", "--node-name", "n1")
	if code != exitOK {
		t.Fatalf("exit %d, stderr: %s", code, errOut)
	}
	if kubeconfig != "/etc/vipkeeper/kubeconfig" {
		t.Errorf("kubeconfig %q, want VIPKEEPER_KUBECONFIG's", kubeconfig)
	}
	want := `[
  {
    "lease": "kube-system/vipkeeper",
    "holder": "n2",
    "thisNode": false,
    "node": "n1",
    "acquireTime": "2026-05-01T11:58:30Z",
    "heldForSeconds": 90,
    "renewTime": "2026-05-01T11:59:59.75Z",
    "renewAgeSeconds": 0.25,
    "leaseDurationSeconds": 5,
    "transitions": 2,
    "expired": false
  }
]
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func TestStatusErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no lease", []string{"--lease-name", "other"}, exitFailure, "Lease kube-system/other does not exist"},
		{"bad output", []string{"-o", "yaml"}, exitUsage, `--output: "yaml" is not table or json`},
		{"unknown flag", []string{"--vip", "192.0.2.1"}, exitUsage, "unknown flag: --vip"},
		{"argument", []string{"extra"}, exitUsage, `unexpected arguments ["extra"]`},
		// Names are checked before the client is built (--kubeconfig
		// /missing would fail otherwise): no request for a name the API
		// server must refuse.
		{"empty lease name", []string{"--lease-name", "", "--kubeconfig", "/missing"}, exitUsage, `--lease-name: "" is not a valid object name`},
		{"lease name with a slash", []string{"--lease-name", "../secrets", "--kubeconfig", "/missing"}, exitUsage, `--lease-name: "../secrets" is not a valid object name`},
		{"lease name with a newline", []string{"--lease-name", "a\nb", "--kubeconfig", "/missing"}, exitUsage, `--lease-name: "a\nb" is not a valid object name`},
		{"upper-case lease name", []string{"--lease-name", "VIP", "--kubeconfig", "/missing"}, exitUsage, "--lease-name: \"VIP\" is not a valid object name"},
		{"bad namespace", []string{"--lease-namespace", "kube.system", "--kubeconfig", "/missing"}, exitUsage, `--lease-namespace: "kube.system" is not a valid namespace`},
		{"bad kubeconfig", []string{"--kubeconfig", "/missing"}, exitUsage, "--kubeconfig: stat /missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut, _ := status(t, nil, []*coordinationv1.Lease{heldLease("vipkeeper", "n1", time.Second, 0, 0)}, tt.args...)
			if code != tt.wantCode || !strings.Contains(errOut, tt.wantErr) || out != "" {
				t.Errorf("exit %d, stderr %q, stdout %q; want exit %d and %q", code, errOut, out, tt.wantCode, tt.wantErr)
			}
		})
	}
}

func TestStatusHelp(t *testing.T) {
	code, out, _, _ := status(t, nil, nil, "--help")
	if code != exitOK || !strings.Contains(out, "--lease-namespace") || !strings.Contains(out, `(default "kube-system")`) {
		t.Errorf("help: exit %d\n%s", code, out)
	}
}
