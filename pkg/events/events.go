package events

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/vipkeeper/vipkeeper/pkg/keeper"
)

// Component is the Events' source component and reporting controller.
const Component = "vipkeeper"

// Event reasons (UpperCamelCase, as Kubernetes asks).
const (
	ReasonAcquired    = "LeaseAcquired"
	ReasonLost        = "LeaseLost"
	ReasonBound       = "VIPBound"
	ReasonSteppedDown = "SteppedDown"
	ReasonRestored    = "VIPRestored"
)

// Correlator limits, per node and Lease. A failover makes two or three
// Events per node; the burst lets several failovers in a row through in
// full, and then a node that keeps flapping writes one Event every 30 s
// (client-go's default is one per 5 min after a burst of 25).
var correlatorOptions = record.CorrelatorOptions{
	BurstSize: 10,
	QPS:       1. / 30.,
}

const (
	// queueSize: Observe never blocks the keeper; a queue this deep is
	// only full when the correlator would drop most of it anyway.
	queueSize = 64
	// uidTimeout bounds the one read of the Lease that finds its UID.
	uidTimeout = 2 * time.Second
	// flushSettle and flushTimeout: at shutdown, give the broadcaster a
	// moment to hand queued Events to the sink, then wait for writes in
	// flight, up to flushTimeout in all (the process is stopping).
	flushSettle  = 100 * time.Millisecond
	flushTimeout = 2 * time.Second
)

// Config names the Lease the Events are attached to and this node.
type Config struct {
	LeaseName      string
	LeaseNamespace string
	Node           string
}

// Recorder writes Kubernetes Events for the keeper's transitions.
type Recorder struct {
	cfg    Config
	client kubernetes.Interface
	log    *slog.Logger
	queue  chan keeper.Transition

	uid string // the Lease's UID once known; owned by Start's goroutine
}

// New returns a Recorder that writes through client. It starts nothing.
func New(cfg Config, client kubernetes.Interface, log *slog.Logger) *Recorder {
	return &Recorder{
		cfg:    cfg,
		client: client,
		log:    log.With("component", "events", "lease", cfg.LeaseNamespace+"/"+cfg.LeaseName),
		queue:  make(chan keeper.Transition, queueSize),
	}
}

// Observe implements keeper.Observer. It queues and returns at once.
func (r *Recorder) Observe(t keeper.Transition) {
	select {
	case r.queue <- t:
	default:
		r.log.Debug("event queue full; dropping", "change", t.Change.String())
	}
}

// Start writes Events until ctx ends, then flushes briefly. It returns nil.
func (r *Recorder) Start(ctx context.Context) error {
	b := record.NewBroadcaster(record.WithCorrelatorOptions(correlatorOptions))
	sink := &countingSink{EventSink: &typedcorev1.EventSinkImpl{Interface: r.client.CoreV1().Events("")}}
	b.StartRecordingToSink(sink)
	rec := b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: Component, Host: r.cfg.Node})
	last := r.run(ctx, rec)
	sink.flush(last)
	b.Shutdown()
	return nil
}

// run records queued transitions until ctx ends, then drains the queue.
// It returns when it last recorded an Event.
func (r *Recorder) run(ctx context.Context, rec record.EventRecorder) (last time.Time) {
	for {
		select {
		case t := <-r.queue:
			r.record(ctx, rec, t)
			last = time.Now()
		case <-ctx.Done():
			for {
				select {
				case t := <-r.queue:
					r.record(ctx, rec, t)
					last = time.Now()
				default:
					return last
				}
			}
		}
	}
}

func (r *Recorder) record(ctx context.Context, rec record.EventRecorder, t keeper.Transition) {
	typ, reason, msg, ok := eventFor(t, r.cfg.Node)
	if !ok {
		return
	}
	rec.Event(r.ref(ctx), typ, reason, msg)
}

// ref is the Lease as the Events' involved object. The UID, read once,
// lets `kubectl describe lease` find the Events; without it (the Lease
// not readable yet) they are still listed by name.
func (r *Recorder) ref(ctx context.Context) *corev1.ObjectReference {
	if r.uid == "" && ctx.Err() == nil {
		gctx, cancel := context.WithTimeout(ctx, uidTimeout)
		l, err := r.client.CoordinationV1().Leases(r.cfg.LeaseNamespace).Get(gctx, r.cfg.LeaseName, metav1.GetOptions{})
		cancel()
		if err != nil {
			r.log.Debug("reading the Lease's UID failed; recording by name", "err", err)
		} else {
			r.uid = string(l.UID)
		}
	}
	return &corev1.ObjectReference{
		Kind:       "Lease",
		APIVersion: coordinationv1.SchemeGroupVersion.String(),
		Namespace:  r.cfg.LeaseNamespace,
		Name:       r.cfg.LeaseName,
		UID:        types.UID(r.uid),
	}
}

// eventFor maps a transition to an Event: type, reason and message.
func eventFor(t keeper.Transition, node string) (typ, reason, msg string, ok bool) {
	vips := addrs(t.VIPs)
	switch t.Change {
	case keeper.Acquired:
		return corev1.EventTypeNormal, ReasonAcquired, fmt.Sprintf("%s acquired the lease", node), true
	case keeper.Lost:
		return corev1.EventTypeNormal, ReasonLost, fmt.Sprintf("%s no longer holds the lease", node), true
	case keeper.Bound:
		return corev1.EventTypeNormal, ReasonBound, fmt.Sprintf("%s bound %s (took %dms)", node, vips, t.Took.Milliseconds()), true
	case keeper.Unbound:
		typ = corev1.EventTypeWarning
		if t.Reason == keeper.ReasonShutdown || t.Reason == keeper.ReasonStartup {
			typ = corev1.EventTypeNormal
		}
		msg = fmt.Sprintf("%s stepped down (%s): unbound %s", node, t.Reason, vips)
		if why := describe(t); why != "" {
			msg += ": " + why
		}
		return typ, ReasonSteppedDown, msg, true
	case keeper.Restored:
		return corev1.EventTypeWarning, ReasonRestored,
			fmt.Sprintf("%s re-added %s after something else removed it from the interface", node, vips), true
	}
	return "", "", "", false
}

// describe is the human part of a step-down.
func describe(t keeper.Transition) string {
	switch t.Reason {
	case keeper.ReasonShutdown:
		return "vipkeeper is shutting down"
	case keeper.ReasonAPIUnreachable:
		if t.Detail != "" {
			return "API server unreachable; " + t.Detail
		}
		return "API server unreachable"
	case keeper.ReasonUnhealthy:
		if t.Detail != "" {
			return "unhealthy: " + t.Detail
		}
		return "unhealthy"
	case keeper.ReasonAPIServerNotReady:
		if t.Detail != "" {
			return "local API server not ready: " + t.Detail
		}
		return "local API server not ready"
	}
	return t.Detail
}

func addrs(a []netip.Addr) string {
	s := make([]string, len(a))
	for i, x := range a {
		s[i] = x.String()
	}
	return strings.Join(s, ", ")
}

// countingSink counts the writes in flight, so that shutdown can wait for
// them.
type countingSink struct {
	record.EventSink
	inflight atomic.Int32
}

func (s *countingSink) Create(e *corev1.Event) (*corev1.Event, error) {
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	return s.EventSink.Create(e)
}

func (s *countingSink) Update(e *corev1.Event) (*corev1.Event, error) {
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	return s.EventSink.Update(e)
}

func (s *countingSink) Patch(e *corev1.Event, data []byte) (*corev1.Event, error) {
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	return s.EventSink.Patch(e, data)
}

// flush waits for the broadcaster to hand over what was recorded at last
// and for the writes in flight, bounded by flushTimeout.
func (s *countingSink) flush(last time.Time) {
	deadline := time.Now().Add(flushTimeout)
	if wait := flushSettle - time.Since(last); wait > 0 {
		time.Sleep(wait)
	}
	for s.inflight.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}
