package election

import (
	"context"
	"errors"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
)

// watchWindow is how long one watch request lives before it is renewed. A
// server-side timeout bounds a watch riding a dead connection; the client
// context adds a few seconds for the server to close it cleanly.
const watchWindow = 30 * time.Second

// watch feeds Lease changes to the observer until ctx ends, reconnecting
// after errors (at the retry period) and when Reconnect is called.
func (e *Elector) watch(ctx context.Context) {
	for ctx.Err() == nil {
		err := e.watchOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
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

func (e *Elector) watchOnce(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, watchWindow+5*time.Second)
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
			return nil // watch again at once
		default:
			return err
		}
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil // the server ended the window; watch again
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				if l, ok := ev.Object.(*coordinationv1.Lease); ok && e.obs.see(l) {
					signal(e.watchSaw)
				}
			case watch.Error:
				return apiError(ev.Object)
			}
		}
	}
}

func apiError(obj interface{ GetObjectKind() schema.ObjectKind }) error {
	if st, ok := obj.(*metav1.Status); ok {
		return fmt.Errorf("lease watch: %s", st.Message)
	}
	return errors.New("lease watch: error event")
}
