package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestRunRefusesBadInput: `vipkeeper run` with a bad setting exits 2 with
// one line naming the flag, before it touches anything.
func TestRunRefusesBadInput(t *testing.T) {
	base := []string{"run", "--node-name", "n1", "--vip", "192.0.2.100", "--interface", "eth0"}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--announce-refresh", "1ns"}, "vipkeeper: --announce-refresh: 1ns is below the minimum of 1s"},
		{[]string{"--lease-duration", "1000000h"}, "vipkeeper: --lease-duration: 1000000h is above the maximum of 10m"},
		{[]string{"--api-server", "https://admin:s3cret@127.0.0.1:99999"}, "vipkeeper: --api-server: \"https://REDACTED@127.0.0.1:99999\""},
		{[]string{"--interface", "lo"}, "vipkeeper: --interface: \"lo\" is the loopback interface"},
		{[]string{"--vip", "240.0.0.1"}, "vipkeeper: --vip: \"240.0.0.1\" is not a unicast host address usable as a VIP"},
	} {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), append(append([]string{}, base...), tt.args...), &out, &errOut)
		if code != exitUsage || !strings.HasPrefix(errOut.String(), tt.want) || strings.Count(errOut.String(), "\n") != 1 {
			t.Errorf("run %q: exit %d, stderr %q; want exit %d and one line starting %q", tt.args, code, errOut.String(), exitUsage, tt.want)
		}
		if strings.Contains(errOut.String(), "s3cret") {
			t.Errorf("run %q shows the password: %q", tt.args, errOut.String())
		}
	}
}
