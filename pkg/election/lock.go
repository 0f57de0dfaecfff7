package election

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// observer remembers when this node last saw the Lease change, from
// client-go's own reads and from the Lease watch, whichever is first. A
// change is a new resourceVersion: every write makes one, even two renewals
// within the same second (the record's JSON has only second precision, so
// comparing records would miss them). The lease is expired for us when it
// has not changed for a lease duration since we saw it change — client-go's
// rule, with fresher observations. An observation always comes after the
// write it sees, so a follower never judges a lease expired before the
// holder's own deadline (see docs/safety.md).
//
// A node that could not read the Lease for a while (the API server was
// unreachable from it) has not been watching: nobody could renew during
// that time either, so silence proves nothing. Its first read after such a
// gap counts as a change, which restarts its clock. That way, after an
// outage, the holder — riding through it — renews its own lease instead of
// losing a race to a follower that merely saw no renewals. A healthy
// watch is observation, even a silent one (a crashed holder leaves it
// silent for a whole lease duration; restarting the clock then would
// double crash failover): reads served from the watched copy count as
// reads. A failed watch is not blindness by itself either (the node reads
// the API server again, and a gap in those reads is); the watchdog's
// verdict that the API server is unreachable is (blinded).
type observer struct {
	now     func() time.Time
	blind   time.Duration // a gap between reads longer than this restarts the clock
	changed chan struct{} // signalled, never blocking, on every change

	mu        sync.Mutex // guards the fields below
	version   string     // resourceVersion last seen
	holder    string
	changedAt time.Time // local time the Lease last changed
	lastRead  time.Time // local time of the last successful read or write
	epoch     int       // counts clock restarts
	wasBlind  bool      // the next observation restarts the clock
}

func newObserver(now func() time.Time, blind time.Duration) *observer {
	return &observer{now: now, blind: blind, changed: make(chan struct{}, 1)}
}

// see records a read of the Lease. It reports whether it changed.
func (o *observer) see(l *coordinationv1.Lease) bool {
	o.mu.Lock()
	now := o.now()
	gap := o.wasBlind || !o.lastRead.IsZero() && now.Sub(o.lastRead) > o.blind
	o.lastRead, o.wasBlind = now, false
	if gap {
		o.epoch++
	}
	if l.ResourceVersion == o.version && !gap {
		o.mu.Unlock()
		return false
	}
	o.version, o.changedAt = l.ResourceVersion, now
	o.holder = ""
	if l.Spec.HolderIdentity != nil {
		o.holder = *l.Spec.HolderIdentity
	}
	o.mu.Unlock()
	signal(o.changed)
	return true
}

// blinded says this node may have missed changes of the Lease (the API
// server was unreachable): its next observation restarts its clock, as
// after a gap between reads.
func (o *observer) blinded() {
	o.mu.Lock()
	o.wasBlind = o.version != ""
	o.mu.Unlock()
}

// state returns the last seen holder and when the lease expires for us;
// ok is false when no Lease was seen yet.
func (o *observer) state(leaseDuration time.Duration) (holder string, expires time.Time, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.version == "" {
		return "", time.Time{}, false
	}
	return o.holder, o.changedAt.Add(leaseDuration), true
}

// restarts returns how often the clock was restarted after a gap.
func (o *observer) restarts() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.epoch
}

// leaseLock is client-go's resourcelock.Interface over a Lease, like
// resourcelock.LeaseLock, with what vipkeeper needs on top:
//   - every read and write feeds the observer;
//   - a Lease held by another node that has expired by the observer's clock
//     is handed to client-go with no holder, so a fresh campaign takes it at
//     once (the write is still a compare-and-swap on the resourceVersion, so
//     a renewal that raced us wins);
//   - the record's duration is rounded up to whole seconds before client-go
//     sees it, so client-go's own check never expires a lease earlier than
//     the configured, millisecond-precise duration;
//   - the start time of every successful write that names us is reported:
//     the anchor of the holder's own safety deadline;
//   - while the watch is healthy, a follower's reads are served from the
//     Lease the watch last delivered (see watched): no request.
type leaseLock struct {
	meta          metav1.ObjectMeta
	client        coordinationv1client.LeasesGetter
	identity      string
	leaseDuration time.Duration
	obs           *observer
	now           func() time.Time
	onWrite       func(start time.Time)
	observer      Observer // may be nil
	watched       *watched // nil: no watch, always read the API server
	heard         func(ok bool)
	annotations   func() map[string]string // Config.Annotations; may be nil

	mu    sync.Mutex // guards lease
	lease *coordinationv1.Lease
}

var _ resourcelock.Interface = (*leaseLock)(nil)

func (l *leaseLock) Identity() string { return l.identity }
func (l *leaseLock) Describe() string { return l.meta.Namespace + "/" + l.meta.Name }

// RecordEvent is a no-op: transitions are reported by the keeper, which
// knows why they happened.
func (l *leaseLock) RecordEvent(string) {}

func (l *leaseLock) Get(ctx context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	lease, err := l.read(ctx)
	if err != nil {
		return nil, nil, err
	}
	l.setLease(lease)
	l.obs.see(lease)
	rec := resourcelock.LeaseSpecToLeaderElectionRecord(&lease.Spec)
	// client-go compares raw records to notice changes and restarts its
	// own clock on each: give it the resourceVersion, so that two renewals
	// within a second differ, and the observer's restarts, so that client-go
	// too starts afresh after a gap in our reads.
	raw, err := json.Marshal(struct {
		*resourcelock.LeaderElectionRecord
		Version string `json:"v"`
		Epoch   int    `json:"e"`
	}{rec, lease.ResourceVersion, l.obs.restarts()})
	if err != nil {
		return nil, nil, err
	}
	if secs := int(math.Ceil(l.leaseDuration.Seconds())); rec.HolderIdentity != "" && rec.LeaseDurationSeconds < secs {
		rec.LeaseDurationSeconds = secs
	}
	if holder, expires, ok := l.obs.state(l.leaseDuration); ok && holder != "" && holder != l.identity && !l.now().Before(expires) {
		rec.HolderIdentity = ""
	}
	return rec, raw, nil
}

// read returns the watched copy of the Lease when there is one and neither
// it nor our last write names us, and otherwise reads the API server. A
// holder reads only on client-go's slow path (its renewals are written
// blind, from its last write), and that read must see its own latest
// write, which the watch may not have delivered yet.
func (l *leaseLock) read(ctx context.Context) (*coordinationv1.Lease, error) {
	if w := l.watched.get(); w != nil && !names(w, l.identity) {
		l.mu.Lock()
		last := l.lease
		l.mu.Unlock()
		if last == nil || !names(last, l.identity) {
			return w, nil
		}
	}
	lease, err := l.client.Leases(l.meta.Namespace).Get(ctx, l.meta.Name, metav1.GetOptions{})
	l.hear(err)
	return lease, err
}

func names(l *coordinationv1.Lease, id string) bool {
	return l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity == id
}

// hear tells the watchdog whether a request got an answer.
func (l *leaseLock) hear(err error) {
	if l.heard != nil {
		l.heard(answered(err))
	}
}

// answered says whether err (nil included) came with an answer from the
// API server: a refusal such as NotFound or Conflict is an answer; a
// timeout, a dropped connection or a server error (5xx) is not.
func answered(err error) bool {
	if err == nil {
		return true
	}
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		code := st.Status().Code
		return code > 0 && code < 500 // a 5xx says the server is not serving
	}
	return false
}

func (l *leaseLock) Create(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	start := l.now()
	next := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: l.meta.Name, Namespace: l.meta.Namespace, Labels: l.meta.Labels},
		Spec:       resourcelock.LeaderElectionRecordToLeaseSpec(&ler),
	}
	l.annotate(next, ler)
	lease, err := l.client.Leases(l.meta.Namespace).Create(ctx, next, metav1.CreateOptions{})
	l.observe(start, err)
	l.hear(err)
	if err != nil {
		l.watched.drop()
		return err
	}
	l.wrote(start, lease)
	return nil
}

func (l *leaseLock) Update(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	l.mu.Lock()
	cur := l.lease
	l.mu.Unlock()
	if cur == nil {
		return errors.New("lease not read yet")
	}
	next := cur.DeepCopy()
	next.Spec = resourcelock.LeaderElectionRecordToLeaseSpec(&ler)
	l.annotate(next, ler)
	start := l.now()
	lease, err := l.client.Leases(l.meta.Namespace).Update(ctx, next, metav1.UpdateOptions{})
	if ler.HolderIdentity == l.identity { // not the release
		l.observe(start, err)
	}
	l.hear(err)
	if err != nil {
		// A conflict means our copy was old: read the API server next.
		l.watched.drop()
		return err
	}
	l.wrote(start, lease)
	return nil
}

func (l *leaseLock) observe(start time.Time, err error) {
	if l.observer != nil {
		l.observer.LeaseWrite(l.now().Sub(start), err)
	}
}

func (l *leaseLock) setLease(lease *coordinationv1.Lease) {
	l.mu.Lock()
	l.lease = lease
	l.mu.Unlock()
}

func (l *leaseLock) wrote(start time.Time, lease *coordinationv1.Lease) {
	l.setLease(lease)
	l.obs.see(lease)
	if h := lease.Spec.HolderIdentity; h != nil && *h == l.identity && l.onWrite != nil {
		l.onWrite(start)
	}
}

// annotate sets Config.Annotations on a write that names this node.
func (l *leaseLock) annotate(lease *coordinationv1.Lease, ler resourcelock.LeaderElectionRecord) {
	if l.annotations == nil || ler.HolderIdentity != l.identity {
		return
	}
	for k, v := range l.annotations() {
		switch {
		case v != "":
			if lease.Annotations == nil {
				lease.Annotations = map[string]string{}
			}
			lease.Annotations[k] = v
		case lease.Annotations != nil:
			delete(lease.Annotations, k)
		}
	}
}
