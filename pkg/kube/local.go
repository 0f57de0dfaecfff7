package kube

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"k8s.io/client-go/rest"
)

// LocalOptions say how to reach this node's own API server alone.
type LocalOptions struct {
	// Kubeconfig is the kubeconfig file; "" means in-cluster. Its
	// credentials authenticate the requests and its CA and server name
	// verify the server, as for every other client.
	Kubeconfig string
	// Server is the API server to reach: the first --api-server.
	Server string
	// Node and Purpose name the client in the API server's audit log:
	// "vipkeeper/VERSION (NODE) PURPOSE".
	Node, Purpose string
	// Timeout bounds each request: dial, TLS handshake and answer.
	Timeout time.Duration
}

// ErrUnverifiable is the error of a local client whose server cannot be
// verified: the kubeconfig has no CA, or skips verification.
var ErrUnverifiable = errors.New("the kubeconfig has no certificate authority to verify the API server with")

// localField is the setting LocalClient's errors are about.
const localField = "api-server-check"

// LocalClient returns an HTTP client of o.Server alone, for the check of
// this node's own API server (pkg/apicheck). Unlike Connect's clients it
// never fails over: they dial whichever --api-server answers, whatever
// address they are asked for, so a check built from them would call
// another node's API server "local, ready".
//
// The trust is the election's: the kubeconfig's CA, and its server's host
// name (or tls-server-name) as the name the certificate must carry, since
// kubeadm's serving certificates do not name 127.0.0.1. A kubeconfig
// without a CA, or one that skips verification, is refused with a
// *FieldError naming api-server-check: an unverified check could be
// answered by anything listening on the port. The kubeconfig's
// credentials go with every request, so the check works where anonymous
// requests are turned off (kube-apiserver --anonymous-auth=false).
//
// Every request dials afresh (no keep-alive, no proxy, HTTP/1.1): a
// connection left dead by a restarting API server is never reused.
func LocalClient(o LocalOptions) (*http.Client, error) {
	cfg, err := Load(o.Kubeconfig)
	if err != nil {
		return nil, &FieldError{Field: "kubeconfig", Err: err}
	}
	switch {
	case cfg.Insecure:
		return nil, &FieldError{Field: localField, Err: fmt.Errorf("%w: it sets insecure-skip-tls-verify", ErrUnverifiable)}
	case len(cfg.CAData) == 0 && cfg.CAFile == "":
		return nil, &FieldError{Field: localField, Err: ErrUnverifiable}
	}
	name, err := serverName(cfg)
	if err != nil {
		return nil, &FieldError{Field: "kubeconfig", Err: err}
	}
	if _, err := hostPort(o.Server); err != nil {
		return nil, &FieldError{Field: "api-server", Err: err}
	}
	cfg.Host = o.Server
	cfg.TLSClientConfig.ServerName = name
	cfg.TLSClientConfig.NextProtos = []string{"http/1.1"}
	cfg.Proxy = func(*http.Request) (*url.URL, error) { return nil, nil }
	// A dialer of our own: the address asked for is the one dialled. A
	// function dialer also keeps client-go from sharing the transport.
	cfg.Dial = (&net.Dialer{Timeout: o.Timeout, KeepAlive: -1}).DialContext
	cfg.UserAgent = userAgent(o.Node) + " " + o.Purpose
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, &FieldError{Field: "kubeconfig", Err: fmt.Errorf("TLS settings: %w", err)}
	}
	return &http.Client{
		Transport: closeAfter{rt},
		Timeout:   o.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // an API server does not redirect /readyz
		},
	}, nil
}

// closeAfter closes every connection after its one request.
type closeAfter struct{ rt http.RoundTripper }

func (c closeAfter) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Close = true
	return c.rt.RoundTrip(req)
}
