package election

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestAnnotationsRideOnRenewals: what Config.Annotations returns is set
// on the acquisition and on the next renewal after it changes — no write
// of its own — and an empty value removes the key.
func TestAnnotationsRideOnRenewals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs := newAPI()
		var value atomic.Pointer[string]
		down := "eth1"
		value.Store(&down)
		c := cfg
		c.Identity = "n1"
		c.Annotations = func() map[string]string { return map[string]string{"vipkeeper.io/links-down": *value.Load()} }
		var s sink
		ctx, stop := context.WithCancel(t.Context())
		e := New(c, cs.CoordinationV1(), nil, s.notify, quiet())
		done := make(chan error, 1)
		go func() { done <- e.Start(ctx) }()
		get := func() map[string]string {
			t.Helper()
			l, err := cs.CoordinationV1().Leases(cfg.LeaseNamespace).Get(t.Context(), cfg.LeaseName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return l.Annotations
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if diff := cmp.Diff(map[string]string{"vipkeeper.io/links-down": "eth1"}, get()); diff != "" {
			t.Fatalf("after the acquisition (-want +got):\n%s", diff)
		}
		none := ""
		value.Store(&none)
		time.Sleep(3 * cfg.RetryPeriod)
		synctest.Wait()
		if diff := cmp.Diff(map[string]string{}, get()); diff != "" {
			t.Errorf("after the renewals (-want +got):\n%s", diff)
		}
		stop()
		<-done
	})
}
