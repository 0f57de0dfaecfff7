package apicheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vipkeeper/vipkeeper/pkg/health"
)

// Defaults: a dead or stopping local API server costs the node its
// candidacy within Fall × Interval = 1 s, while one lost probe changes
// nothing. The timeout leaves each probe room to end before the next.
const (
	DefaultInterval = 500 * time.Millisecond
	DefaultTimeout  = 400 * time.Millisecond
	DefaultRise     = 2
	DefaultFall     = 2
)

// Config configures a Checker.
type Config struct {
	// Server is the local API server, https://host[:port]: the first
	// --api-server.
	Server string
	// Interval is the time between probes; Timeout bounds one probe and
	// is less than Interval.
	Interval, Timeout time.Duration
	// Rise good probes in a row make the server ready; Fall failed ones
	// make it not ready.
	Rise, Fall int
}

// Validate reports the first invalid setting. The configuration's own
// checks (pkg/config) name the flag; this one guards the package's use.
func (c Config) Validate() error {
	switch {
	case c.Interval <= 0 || c.Timeout <= 0:
		return fmt.Errorf("interval %v and timeout %v must be greater than 0", c.Interval, c.Timeout)
	case c.Timeout >= c.Interval:
		return fmt.Errorf("timeout %v must be less than interval %v", c.Timeout, c.Interval)
	case c.Rise < 1 || c.Fall < 1:
		return fmt.Errorf("rise %d and fall %d must be at least 1", c.Rise, c.Fall)
	}
	_, err := readyzURL(c.Server)
	return err
}

// Status is the verdict on the local API server.
type Status struct {
	Ready bool
	// Reason says why it is not ready, e.g. "status 500", "connection
	// refused"; "" when ready.
	Reason string
}

// ErrStarted is returned by a second call of Start.
var ErrStarted = errors.New("apicheck: already started")

// Checker probes the local API server's /readyz.
type Checker struct {
	cfg    Config
	probe  func(ctx context.Context) error
	notify func(Status)
	log    *slog.Logger

	started atomic.Bool
}

// New returns a Checker of cfg.Server using client (kube.LocalClient: a
// client of that server alone); it starts nothing. notify (may be nil)
// is called from Start's goroutine on every change. log is tagged
// component=api-server-check.
func New(cfg Config, client *http.Client, notify func(Status), log *slog.Logger) (*Checker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	u, _ := readyzURL(cfg.Server) // validated
	return newChecker(cfg, readyz(client, u), notify, log), nil
}

func newChecker(cfg Config, probe func(context.Context) error, notify func(Status), log *slog.Logger) *Checker {
	if notify == nil {
		notify = func(Status) {}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Checker{cfg: cfg, probe: probe, notify: notify, log: log.With("component", "api-server-check")}
}

// readyzURL is server's /readyz.
func readyzURL(server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return "", fmt.Errorf("server %q: want https://host[:port]", server)
	}
	u.Path, u.RawQuery, u.User = "/readyz", "", nil
	return u.String(), nil
}

// maxBody bounds what is read of an answer; /readyz says "ok", or lists
// its checks.
const maxBody = 4 << 10

// readyz returns the probe: GET u, ready on 200 alone.
func readyz(client *http.Client, u string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		if resp.StatusCode != http.StatusOK {
			if failed := failing(body); failed != "" {
				return fmt.Errorf("status %d: %s", resp.StatusCode, failed)
			}
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
}

// failing names the checks a failed /readyz lists as "[-]name failed: …"
// (kube-apiserver lists every check when one fails), e.g. "shutdown" while
// it shuts down; "" if none.
func failing(body []byte) string {
	var names []string
	for line := range strings.Lines(string(body)) {
		name, ok := strings.CutPrefix(strings.TrimSpace(line), "[-]")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(name, " ")
		if name != "" && len(names) < maxNames {
			names = append(names, name)
		}
	}
	return strings.Join(names, ", ")
}

// maxNames bounds the checks named in a reason; it is a log value.
const maxNames = 3

// Start probes at once and then every Interval until ctx ends; it returns
// nil then. It may be called once.
func (c *Checker) Start(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return ErrStarted
	}
	c.log.Info("checking the local API server", "server", c.cfg.Server, "interval", c.cfg.Interval,
		"timeout", c.cfg.Timeout, "rise", c.cfg.Rise, "fall", c.cfg.Fall)
	tick := time.NewTicker(c.cfg.Interval)
	defer tick.Stop()
	var (
		state health.RiseFall
		said  bool // a verdict was logged
	)
	for {
		pctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		start := time.Now()
		err := c.probe(pctx)
		took := time.Since(start)
		cancel()
		if ctx.Err() != nil {
			return nil // cut short by shutdown: not a result
		}
		if err != nil {
			c.log.Debug("probe failed", "err", err, "took", took)
		}
		changed := state.Observe(err == nil, c.cfg.Rise, c.cfg.Fall)
		switch {
		case changed && state.Up:
			c.log.Info("local API server ready", "server", c.cfg.Server)
			c.notify(Status{Ready: true})
		case changed || (!said && err != nil):
			// Down, or the first verdict of a server that never was up.
			reason := health.ShortReason(err)
			c.log.Warn("local API server not ready", "server", c.cfg.Server, "reason", reason, "err", err)
			c.notify(Status{Reason: reason})
		}
		said = said || changed || err != nil
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil
		}
	}
}
