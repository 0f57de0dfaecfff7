package election

import (
	"context"
	"errors"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
)

// watchWindow is how long one watch request lives before it is renewed. A
// server-side timeout bounds a watch riding a dead connection; the client
// context adds a few seconds for the server to close it cleanly.
const watchWindow = 30 * time.Second

// errReconnected ends a watch that Reconnect replaced.
var errReconnected = errors.New("lease watch: reconnecting")

// watch feeds Lease changes to the observer and the watched copy until ctx
// ends, reconnecting after errors (at the retry period) and when Reconnect
// is called. A watch that ends cleanly (the server closed its window) is
// replaced at once: the new one starts with the Lease as it is, and the
// copy stands meanwhile (a read served from it can only lead to a
// compare-and-swap). A watch that failed may have missed changes: the copy
// is dropped, so client-go's polls read the API server until a watch is
// established again. That alone does not restart the node's clock: a
// watch can fail while the API server answers reads (an API server whose
// watch cache has seen no write for a while refuses new watches with "Too
// large resource version" — just when a holder has crashed), and the
// reads, with their own rule for gaps, are observation enough; a node
// that cannot read either is blind by that rule, and by the watchdog's
// verdict (Blind).
func (e *Elector) watch(ctx context.Context) {
	for ctx.Err() == nil {
		err := e.watchOnce(ctx)
		if ctx.Err() != nil {
			e.watched.drop()
			return
		}
		if errors.Is(err, errReconnected) {
			continue // Reconnect already dropped the copy and declared the node blind
		}
		if err != nil {
			e.watched.drop()
			e.heard(answered(err))
			e.log.Debug("lease watch failed; retrying", "err", err, "in", e.cfg.RetryPeriod)
			select {
			case <-ctx.Done():
				return
			case <-e.reconnect:
			case <-time.After(e.cfg.RetryPeriod):
			}
		}
	}
}

func (e *Elector) watchOnce(parent context.Context) error {
	ctx, cancel := context.WithTimeout(parent, watchWindow+5*time.Second)
	defer cancel()
	// Reconnect cancels the request in every phase: dialing, waiting for
	// the response headers on a dead connection, or streaming.
	reconnected := make(chan struct{})
	go func() {
		select {
		case <-e.reconnect:
			e.log.Debug("lease watch reconnecting")
			close(reconnected)
			cancel()
		case <-ctx.Done():
		}
	}()
	secs := int64(watchWindow / time.Second)
	w, err := e.watches.Leases(e.cfg.LeaseNamespace).Watch(ctx, metav1.ListOptions{
		FieldSelector:  fields.OneTermEqualSelector("metadata.name", e.cfg.LeaseName).String(),
		TimeoutSeconds: &secs,
	})
	if err != nil {
		select {
		case <-reconnected:
			return errReconnected
		default:
			return err
		}
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			select {
			case <-reconnected:
				return errReconnected
			default:
			}
			if parent.Err() != nil {
				return nil
			}
			// The server did not close the window: the connection is dead.
			return errors.New("lease watch: the window overran")
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil // the server ended the window; watch again
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				if l, ok := ev.Object.(*coordinationv1.Lease); ok {
					e.heard(true)
					e.watched.set(l)
					if e.obs.see(l) {
						signal(e.watchSaw)
					}
				}
			case watch.Deleted:
				e.heard(true)
				e.watched.drop()
			case watch.Error:
				return apiError(ev.Object)
			}
		}
	}
}

// heard tells the watchdog, if anyone listens, whether the watch heard the
// API server.
func (e *Elector) heard(ok bool) {
	if e.cfg.Heard != nil {
		e.cfg.Heard(ok)
	}
}

func apiError(obj interface{ GetObjectKind() schema.ObjectKind }) error {
	if st, ok := obj.(*metav1.Status); ok {
		return fmt.Errorf("lease watch: %w", &apierrors.StatusError{ErrStatus: *st})
	}
	return errors.New("lease watch: error event")
}
