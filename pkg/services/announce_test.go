package services

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestAnnouncerChangedEvent: a new address gets no Event (its status says
// it); when its node dies, the survivor that takes it over sends one
// Normal Event naming itself and the dead node, and its claim names the
// pool and the time it was taken.
func TestAnnouncerChangedEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newClient()
		ctx := context.Background()
		nodes := map[string]*node{"n1": startNode(t, c, "n1", false), "n2": startNode(t, c, "n2", false)}
		if _, err := c.CoreV1().Services("default").Create(ctx, lbService("a"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		settle(soon)
		events := func() []corev1.Event {
			evs, err := c.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var out []corev1.Event
			for _, e := range evs.Items {
				if e.Reason == ReasonAnnouncerChanged && e.InvolvedObject.Name == "a" {
					out = append(out, e)
				}
			}
			return out
		}
		if evs := events(); len(evs) != 0 {
			t.Errorf("Events for a new address: %v; want none", evs)
		}
		victim, ok := claimHolder(c, addrA)
		if !ok || nodes[victim] == nil {
			t.Fatalf("claim of %s: holder %q", addrA, victim)
		}
		survivor := map[string]string{"n1": "n2", "n2": "n1"}[victim]
		nodes[victim].stop()
		settle(expiry)
		if h, _ := claimHolder(c, addrA); h != survivor {
			t.Fatalf("claim of %s: holder %q; want %s", addrA, h, survivor)
		}
		evs := events()
		if len(evs) != 1 {
			t.Fatalf("AnnouncerChanged Events after the crash: %d (%v); want 1", len(evs), evs)
		}
		e := evs[0]
		if e.Type != corev1.EventTypeNormal || e.Source.Host != survivor ||
			!strings.Contains(e.Message, "announced by node "+survivor) || !strings.Contains(e.Message, "taken over from "+victim) {
			t.Errorf("Event %s from %s: %q; want Normal from %s naming it and %s", e.Type, e.Source.Host, e.Message, survivor, victim)
		}
		l, err := c.CoordinationV1().Leases(ns).Get(ctx, ClaimLeaseName(addrA), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if l.Annotations[AnnotationPool] != "lab" || l.Spec.AcquireTime == nil {
			t.Errorf("claim annotations %v, acquireTime %v; want pool lab and a time", l.Annotations, l.Spec.AcquireTime)
		}
	})
}

// TestRestartNoEvent: a restarted node takes its addresses back; that
// is no move between nodes, and sends no Event (one per address per
// restart would say nothing and cost a write each).
func TestRestartNoEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newClient()
		ctx := context.Background()
		n := startNode(t, c, "n1", false)
		if _, err := c.CoreV1().Services("default").Create(ctx, lbService("a"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		settle(soon)
		before, err := c.CoordinationV1().Leases(ns).Get(ctx, ClaimLeaseName(addrA), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n.stop()
		settle(100 * time.Millisecond)
		n = startNode(t, c, "n1", false)
		settle(soon)
		after, err := c.CoordinationV1().Leases(ns).Get(ctx, ClaimLeaseName(addrA), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if after.ResourceVersion == before.ResourceVersion || !bound(n, addrA) {
			t.Fatalf("the restarted node did not take %s back (bound %v); the test proves nothing", addrA, n.binder.get())
		}
		evs, _ := c.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
		for _, e := range evs.Items {
			if e.Reason == ReasonAnnouncerChanged {
				t.Errorf("Event after a restart: %s", e.Message)
			}
		}
	})
}
