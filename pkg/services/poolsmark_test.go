package services

import (
	"context"
	"testing"
	"testing/synctest"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipkeeper/vipkeeper/pkg/services/ipam"
)

func TestPoolsDiffer(t *testing.T) {
	a := poolsMark(false, testPools)
	b := poolsMark(false, []ipam.PoolSpec{{Name: "lab", Addresses: []string{"203.0.113.0/28"}}})
	blue := ipam.PoolSpec{Name: "blue", Addresses: []string{"203.0.113.16/28"}}
	ab := poolsMark(false, append([]ipam.PoolSpec{blue}, testPools...))
	ba := poolsMark(false, append(append([]ipam.PoolSpec{}, testPools...), blue))
	for _, tc := range []struct {
		name, mine, theirs string
		want               bool
	}{
		{"same flags", a, a, false},
		{"other addresses", a, b, true},
		{"same pools, other order (the order decides which pool serves first)", ab, ba, true},
		{"allocator reads objects", a, markObjects, false},
		{"we read objects", markObjects, a, false},
		{"both read objects", markObjects, markObjects, false},
		{"allocator from before the annotation", a, "", false},
	} {
		if got := poolsDiffer(tc.mine, tc.theirs); got != tc.want {
			t.Errorf("%s: poolsDiffer(%q, %q) = %v; want %v", tc.name, tc.mine, tc.theirs, got, tc.want)
		}
	}
	if poolsMark(false, testPools) != a {
		t.Error("poolsMark is not deterministic")
	}
}

// TestPoolsDifferEvent: a node whose flag pools differ from the allocator
// node's says so with a Warning Event on the allocator claim, once; a
// node with the same pools does not.
func TestPoolsDifferEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newClient()
		startNode(t, c, "n1", false)
		settle(soon) // n1 takes the allocator role
		startNode(t, c, "n2", false)
		startNodeWith(t, c, "n3", func(cfg *Config) {
			cfg.Pools = []ipam.PoolSpec{{Name: "lab", Addresses: []string{"203.0.113.0/28"}}}
		})
		settle(expiry)
		evs, err := c.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		from := map[string]int{}
		for _, e := range evs.Items {
			if e.Reason == ReasonPoolsDiffer && e.Type == corev1.EventTypeWarning && e.InvolvedObject.Name == AllocatorLease {
				from[e.Source.Host] += int(max(e.Count, 1))
			}
		}
		if from["n3"] != 1 || from["n2"] != 0 || from["n1"] != 0 {
			t.Errorf("PoolsDiffer Events by node: %v; want one from n3 only", from)
		}
	})
}
