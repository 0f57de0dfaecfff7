package config

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestAPIServerCheck: the check is off by default, and on it needs the
// local API server (the first --api-server) and a VIP to gate.
func TestAPIServerCheck(t *testing.T) {
	on := []string{"--interface", "eth0", "--api-server", "https://127.0.0.1:6443,https://198.51.100.2:6443", "--api-server-check"}
	c, err := Load(sources(append(on, "--vip", "192.0.2.100", "--api-server-check-interval", "1s", "--api-server-check-fall", "3"), nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := APIServerCheck{Enabled: true, Interval: time.Second, Timeout: 400 * time.Millisecond, Rise: 2, Fall: 3}
	if diff := cmp.Diff(want, c.APIServerCheck); diff != "" {
		t.Errorf("APIServerCheck (-want +got):\n%s", diff)
	}

	_, err = Load(sources(append(on, "--services", "--services-pool", "pool=a;addresses=203.0.113.0/28"), nil, nil))
	checkLoadError(t, err, "--api-server-check", "gates the control-plane VIP's candidacy alone, and no --vip is set")
}
