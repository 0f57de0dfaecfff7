package health

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	probing "github.com/prometheus-community/pro-bing"
)

// probeFunc runs one probe; ctx carries the probe's deadline. nil is a good
// probe.
type probeFunc func(ctx context.Context) error

// newProbe builds the probe of one validated check.
func newProbe(c Check, cfg Config, log *slog.Logger) (probeFunc, error) {
	switch c.Kind {
	case KindHTTP:
		return newHTTPProbe(c, cfg)
	case KindICMP:
		return newICMPProbe(c, cfg, log)
	}
	return nil, fmt.Errorf("check %s: unknown kind %q", c.Name, c.Kind)
}

// userAgent identifies our probes in the target's access log.
const userAgent = "vipkeeper-health"

// maxHeaderBytes bounds a health endpoint's response headers; the body is
// never read.
const maxHeaderBytes = 64 << 10

func newHTTPProbe(c Check, cfg Config) (probeFunc, error) {
	client, err := newHTTPClient(c, cfg)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Target, nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", userAgent)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close() // keep-alives are off: the connection closes with it
		if resp.StatusCode < c.StatusMin || resp.StatusCode > c.StatusMax {
			return &statusError{code: resp.StatusCode}
		}
		return nil
	}, nil
}

// newHTTPClient returns the check's own client: a fresh connection per
// probe, no proxy, no redirects, every phase bounded by the probe timeout.
func newHTTPClient(c Check, cfg Config) (*http.Client, error) {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fieldErr(fieldCAFile, "check %s: %w", c.Name, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool() // no system roots: the bundle alone
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fieldErr(fieldCAFile, "check %s: no PEM certificate in %s", c.Name, c.CAFile)
		}
		tlsConf.RootCAs = pool
	}
	// Only ever set because the operator asked for it explicitly.
	tlsConf.InsecureSkipVerify = c.InsecureSkipVerify //nolint:gosec
	dialer := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: -1}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            dialer.DialContext,
			TLSClientConfig:        tlsConf,
			TLSHandshakeTimeout:    cfg.Timeout,
			ResponseHeaderTimeout:  cfg.Timeout,
			DisableKeepAlives:      true,
			DisableCompression:     true,
			MaxResponseHeaderBytes: maxHeaderBytes,
		},
		Timeout: cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // judge the 3xx itself
		},
	}, nil
}

func newICMPProbe(c Check, cfg Config, log *slog.Logger) (probeFunc, error) {
	a, err := parseICMPTarget(c.Target)
	if err != nil {
		return nil, fieldErr(fieldICMP, "check %s: %w", c.Name, err)
	}
	dst := &net.IPAddr{IP: net.IP(a.AsSlice()), Zone: a.Zone()}
	plog := pingLogger{log.With("check", c.Name)}
	return func(ctx context.Context) error {
		return ping(ctx, dst, cfg.Timeout, plog)
	}, nil
}

// ping sends one echo request and waits up to timeout (or ctx) for the reply.
func ping(ctx context.Context, dst *net.IPAddr, timeout time.Duration, log probing.Logger) error {
	p := probing.New("")
	p.SetIPAddr(dst) // an address, so no DNS lookup
	p.SetPrivileged(true)
	p.SetLogger(log)
	p.Count = 1
	p.Interval = timeout // one packet; the library needs a positive period
	p.Timeout = timeout
	p.RecordRtts = false
	p.RecordTTLs = false
	err := p.RunWithContext(ctx)
	if p.Statistics().PacketsRecv > 0 {
		return nil
	}
	if err != nil && ctx.Err() == nil {
		return err // e.g. socket or send error
	}
	return errNoReply
}

// pingLogger sends pro-bing's messages to slog at debug level: its "fatal"
// and "error" messages are per-packet and it carries on after them.
type pingLogger struct{ log *slog.Logger }

func (l pingLogger) Fatalf(format string, v ...any) {
	l.log.Debug("ping: " + fmt.Sprintf(format, v...))
}
func (l pingLogger) Errorf(format string, v ...any) {
	l.log.Debug("ping: " + fmt.Sprintf(format, v...))
}
func (l pingLogger) Warnf(format string, v ...any) { l.log.Debug("ping: " + fmt.Sprintf(format, v...)) }
func (l pingLogger) Infof(format string, v ...any) { l.log.Debug("ping: " + fmt.Sprintf(format, v...)) }
func (l pingLogger) Debugf(format string, v ...any) {
	l.log.Debug("ping: " + fmt.Sprintf(format, v...))
}
