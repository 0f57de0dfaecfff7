package config

import (
	"errors"
	"strings"
	"testing"
)

func TestMetricsAddr(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    string
		wantErr string // substring; "" means valid
	}{
		{name: "default", want: "127.0.0.1:9479"},
		{name: "all addresses", args: []string{"--metrics-addr", ":9100"}, want: ":9100"},
		{name: "IPv6", args: []string{"--metrics-addr", "[::1]:9479"}, want: "[::1]:9479"},
		{name: "host name", args: []string{"--metrics-addr", "localhost:9479"}, want: "localhost:9479"},
		{name: "disabled by flag", args: []string{"--metrics-addr", ""}, want: ""},
		{name: "disabled by env", env: map[string]string{"VIPKEEPER_METRICS_ADDR": ""}, want: ""},
		{name: "no port", args: []string{"--metrics-addr", "127.0.0.1"}, wantErr: "is not host:port"},
		{name: "port 0", args: []string{"--metrics-addr", "127.0.0.1:0"}, wantErr: "port \"0\""},
		{name: "port name", args: []string{"--metrics-addr", "127.0.0.1:http"}, wantErr: "is not a number"},
		{name: "bad host", args: []string{"--metrics-addr", "a/b:9479"}, wantErr: "neither an IP address nor a host name"},
		{name: "bad env", env: map[string]string{"VIPKEEPER_METRICS_ADDR": "9479"}, wantErr: "VIPKEEPER_METRICS_ADDR: \"9479\" is not host:port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(sources(append(append([]string(nil), minimal...), tt.args...), tt.env, nil))
			if tt.wantErr != "" {
				var ce *Error
				if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load error = %v, want a *config.Error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.MetricsAddr != tt.want {
				t.Errorf("MetricsAddr = %q, want %q", c.MetricsAddr, tt.want)
			}
		})
	}
}
