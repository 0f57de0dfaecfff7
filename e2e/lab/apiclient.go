package lab

import (
	"context"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// APIClientOptions configure StartAPIClient. Zero values take the defaults
// noted per field.
type APIClientOptions struct {
	VIP        netip.Addr    // the address the client talks to; default the first VIP
	ReadEvery  time.Duration // a GET of the client's ConfigMap; default 50ms
	WriteEvery time.Duration // a PATCH of it; default 250ms
	// Timeout bounds one request, client-go's retries included; default
	// 5s. A GET that meets a connection reset is retried by client-go after
	// a second, so it must be well above that.
	Timeout time.Duration
}

func (o *APIClientOptions) defaults(l *Lab) {
	if !o.VIP.IsValid() {
		o.VIP = l.opts.VIPs[0]
	}
	if o.ReadEvery == 0 {
		o.ReadEvery = 50 * time.Millisecond
	}
	if o.WriteEvery == 0 {
		o.WriteEvery = 250 * time.Millisecond
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
}

// ClientConfigMap is the ConfigMap (namespace "default") the API client
// reads and writes.
const ClientConfigMap = "vipkeeper-lab-client"

// apiClientMaxInFlight bounds the client's concurrent requests: a tick is
// skipped beyond it. At 24 requests/s and a 5 s timeout at most ~120 hang
// at once, so this only bites if something is badly wrong.
const apiClientMaxInFlight = 256

// APIRequest is one request of the API client as client-go returned it,
// after its retries.
type APIRequest struct {
	Start   time.Time
	Latency time.Duration
	Write   bool
	Err     string // "" if it succeeded
	Class   string // the failure's class (ErrClass); "" if it succeeded
}

// Done is when the request returned.
func (r APIRequest) Done() time.Time { return r.Start.Add(r.Latency) }

// TransportError is one round trip that failed beneath client-go, which
// retries a GET after a connection reset.
type TransportError struct {
	At    time.Time
	Class string // ErrClass
	Err   string
}

// Error classes (ErrClass).
const (
	ClassReset   = "reset"   // connection reset, EOF, GOAWAY (client-go retries a GET), or a connection closed after one
	ClassRefused = "refused" // nobody listens on the address
	ClassTimeout = "timeout"
	ClassOther   = "other"
)

// ErrClass sorts a request error into ClassReset, ClassRefused,
// ClassTimeout or ClassOther.
func ErrClass(err error) string {
	var ne net.Error
	switch {
	case utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err):
		return ClassReset
	case strings.Contains(err.Error(), "client connection force closed"):
		// The HTTP/2 transport closes a connection whose write met a
		// reset; the requests waiting on it fail with this, and client-go
		// does not retry them.
		return ClassReset
	case errors.Is(err, syscall.ECONNREFUSED):
		return ClassRefused
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout(), apierrors.IsTimeout(err):
		return ClassTimeout
	default:
		return ClassOther
	}
}

// APIClient is a client-go client in the client namespace that reads and
// writes through the VIP at a steady rate, over client-go's usual HTTP/2
// transport, its TLS checked against the lab's CA and the VIP (which the
// serving certificates name). It records every request.
type APIClient struct {
	Began  time.Time
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex // guards the fields below
	reqs      []APIRequest
	transport []TransportError
	skipped   int
}

// StartAPIClient creates the client's ConfigMap (with the admin client)
// and starts reading and writing it through the VIP until the test ends
// or Stop.
func (l *Lab) StartAPIClient(opts APIClientOptions) *APIClient {
	l.t.Helper()
	opts.defaults(l)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ClientConfigMap, Namespace: "default"}}
	if _, err := l.admin.CoreV1().ConfigMaps("default").Create(context.Background(), cm, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		l.t.Fatalf("StartAPIClient: %v", err)
	}
	server := "https://" + hostPort(opts.VIP.String(), apiPort)
	kubeconfig, err := l.pki.kubeconfig("client.kubeconfig", pkix.Name{CommonName: "vipkeeper-lab-client", Organization: []string{"system:masters"}}, server)
	if err != nil {
		l.t.Fatalf("StartAPIClient: %v", err)
	}
	c := &APIClient{}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		l.t.Fatalf("StartAPIClient: %v", err)
	}
	cfg.Dial = l.client.DialContext
	cfg.Timeout = opts.Timeout
	cfg.QPS, cfg.Burst = 1000, 1000 // far above the client's 24 requests/s: never throttled
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			resp, err := rt.RoundTrip(req)
			if err != nil {
				c.mu.Lock()
				c.transport = append(c.transport, TransportError{At: time.Now(), Class: ErrClass(err), Err: err.Error()})
				c.mu.Unlock()
			}
			return resp, err
		})
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		l.t.Fatalf("StartAPIClient: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.Began = cancel, time.Now()
	sem := make(chan struct{}, apiClientMaxInFlight)
	cms := cs.CoreV1().ConfigMaps("default")
	loop := func(every time.Duration, write bool) {
		var n int // the write's value, so every PATCH changes the object
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			select {
			case sem <- struct{}{}:
			default:
				c.mu.Lock()
				c.skipped++
				c.mu.Unlock()
				continue
			}
			n++
			patch := fmt.Appendf(nil, `{"data":{"n":"%d"}}`, n)
			c.wg.Go(func() {
				defer func() { <-sem }()
				// Not ctx: a request in flight at Stop runs to its end.
				start := time.Now()
				var err error
				if write {
					_, err = cms.Patch(context.Background(), ClientConfigMap, types.MergePatchType, patch, metav1.PatchOptions{})
				} else {
					_, err = cms.Get(context.Background(), ClientConfigMap, metav1.GetOptions{})
				}
				r := APIRequest{Start: start, Latency: time.Since(start), Write: write}
				if err != nil {
					r.Err, r.Class = err.Error(), ErrClass(err)
				}
				c.mu.Lock()
				c.reqs = append(c.reqs, r)
				c.mu.Unlock()
			})
		}
	}
	c.wg.Go(func() { loop(opts.ReadEvery, false) })
	c.wg.Go(func() { loop(opts.WriteEvery, true) })
	l.t.Cleanup(c.Stop)
	return c
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Stop ends the loops and waits for requests in flight; it is idempotent.
func (c *APIClient) Stop() {
	c.cancel()
	c.wg.Wait()
}

// Requests are the requests so far, by start time.
func (c *APIClient) Requests() []APIRequest {
	c.mu.Lock()
	out := append([]APIRequest(nil), c.reqs...)
	c.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// TransportErrors are the failed round trips so far, in time order.
func (c *APIClient) TransportErrors() []TransportError {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]TransportError(nil), c.transport...)
}

// Summary summarizes the requests that started in [from, to].
func (c *APIClient) Summary(from, to time.Time) APISummary {
	c.mu.Lock()
	skipped := c.skipped
	c.mu.Unlock()
	s := SummarizeAPI(c.Requests(), c.TransportErrors(), from, to)
	s.Skipped = skipped
	return s
}

// WaitRead waits until a read that started at or after since has
// succeeded, and returns it.
func (c *APIClient) WaitRead(since time.Time, timeout time.Duration) (APIRequest, bool) {
	var found APIRequest
	ok := WaitFor(timeout, func() bool {
		for _, r := range c.Requests() {
			if !r.Write && r.Err == "" && !r.Start.Before(since) {
				found = r
				return true
			}
		}
		return false
	})
	return found, ok
}
