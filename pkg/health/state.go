package health

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"strings"
	"syscall"
)

// Status is the aggregate health of the node.
type Status struct {
	// Healthy is true when every check is up and the link (if tracked) is up.
	Healthy bool
	// Reason is "" when healthy, else a short description of the first
	// problem: the link before the checks, checks in configuration order,
	// e.g. "link down", "check http-0 failing: status 503".
	Reason string
	// LinkDown is true when link tracking is on and the link is down, has no
	// carrier, is gone, or has not been read yet.
	LinkDown bool
	// Checks maps each check's name to whether it is up. Never nil.
	Checks map[string]bool
}

// sameState reports whether a and b differ only in Reason, which is not a
// change worth a notification.
func sameState(a, b Status) bool {
	return a.Healthy == b.Healthy && a.LinkDown == b.LinkDown && maps.Equal(a.Checks, b.Checks)
}

func (s Status) clone() Status {
	s.Checks = maps.Clone(s.Checks)
	return s
}

// RiseFall is the rise/fall hysteresis of one check: it starts down,
// comes up after rise consecutive good probes and goes down after fall
// consecutive failed ones. Every check with rise and fall counts uses it
// (the health checks here, pkg/apicheck's check of the local API
// server), so the rule exists once.
type RiseFall struct {
	Up   bool // starts down: see "Start state" in the package doc
	Good int  // consecutive good probes, 0 after a failure
	Bad  int  // consecutive failed probes, 0 after a success
}

// Observe applies one probe result and reports whether Up changed.
func (h *RiseFall) Observe(ok bool, rise, fall int) bool {
	was := h.Up
	if ok {
		h.Bad = 0
		h.Good++
		if !h.Up && h.Good >= rise {
			h.Up = true
		}
	} else {
		h.Good = 0
		h.Bad++
		if h.Up && h.Bad >= fall {
			h.Up = false
		}
	}
	return h.Up != was
}

// checkState is the rise/fall state of one check.
type checkState struct {
	name string
	RiseFall
	probed bool   // at least one result arrived
	reason string // short reason of the last failed probe
}

// observe applies one probe result and reports whether up changed.
func (s *checkState) observe(err error, rise, fall int) bool {
	s.probed = true
	if err != nil {
		s.reason = ShortReason(err)
	}
	return s.Observe(err == nil, rise, fall)
}

// why describes a down check.
func (s *checkState) why(rise int) string {
	switch {
	case !s.probed:
		return "check " + s.name + " waiting for first probe"
	case s.Good > 0:
		return fmt.Sprintf("check %s rising: %d/%d good probes", s.name, s.Good, rise)
	default:
		return "check " + s.name + " failing: " + s.reason
	}
}

// linkView is the loop's knowledge of the tracked link.
type linkView struct {
	tracked bool // Config.Interface is set
	known   bool // a first reading arrived
	state   linkState
}

func (l linkView) down() bool { return l.tracked && (!l.known || !l.state.up) }

// aggregate computes the Status from the loop's state.
func aggregate(checks []checkState, link linkView, rise int) Status {
	st := Status{Healthy: true, LinkDown: link.down(), Checks: make(map[string]bool, len(checks))}
	if st.LinkDown {
		st.Healthy = false
		st.Reason = "link down"
		if !link.known {
			st.Reason = "link state unknown"
		}
	}
	for i := range checks {
		c := &checks[i]
		st.Checks[c.name] = c.Up
		if !c.Up && st.Healthy {
			st.Healthy = false
			st.Reason = c.why(rise)
		}
	}
	return st
}

// errNoReply is an ICMP probe that got no echo reply in time.
var errNoReply = errors.New("no reply")

// statusError is an HTTP response outside the accepted range.
type statusError struct{ code int }

func (e *statusError) Error() string { return fmt.Sprintf("status %d", e.code) }

// maxReason bounds a reason taken from an unrecognised error's text.
const maxReason = 60

// ShortReason turns a probe error into a short, stable description: no
// addresses, no ephemeral ports, so it reads well in logs and Status.Reason.
func ShortReason(err error) string {
	var (
		se      *statusError
		timeout interface{ Timeout() bool }
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		record  tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &se):
		return se.Error()
	case errors.Is(err, errNoReply):
		return "no reply"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &timeout) && timeout.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "host unreachable"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	case errors.As(err, &unknown):
		return "tls: certificate signed by unknown authority"
	case errors.As(err, &host):
		return "tls: certificate is not valid for the host"
	case errors.As(err, &invalid):
		return "tls: invalid certificate"
	case errors.As(err, &record):
		return "tls: server does not speak TLS"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // without "Get <URL>: "
	}
	s := err.Error()
	if len(s) > maxReason {
		s = strings.ToValidUTF8(s[:maxReason], "") + "…"
	}
	return s
}
