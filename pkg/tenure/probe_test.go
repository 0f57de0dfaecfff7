package tenure_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipkeeper/vipkeeper/pkg/tenure"
)

func TestProbe(t *testing.T) {
	began := at(time.Minute)
	tests := []struct {
		name     string
		after    time.Duration // now − began
		answered bool
		want     tenure.ProbeOutcome
	}{
		{"not answered, first round", 0, false, tenure.Bind},
		{"not answered, later round", 500 * ms, false, tenure.Bind},
		{"not answered, past the budget", 5 * s, false, tenure.Bind},
		{"answered, first round", 0, true, tenure.Wait},
		{"answered before the budget", 500 * ms, true, tenure.Wait},
		{"answered past the budget, within an old lifetime", 2 * s, true, tenure.Wait},
		{"answered just before the longest lifetime", 4500*ms - 1, true, tenure.Wait},
		{"answered at exactly the longest lifetime", 4500 * ms, true, tenure.BindContested},
		{"answered after the longest lifetime", 4500*ms + 1, true, tenure.BindContested},
		{"answered long after the budget", time.Hour, true, tenure.BindContested},
	}
	for _, hold := range []bool{true, false} {
		for _, tc := range tests {
			tn := tenure.New(cfg(hold), true)
			got := tn.Probe(began, began.Add(tc.after), tc.answered)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("hold=%v %s: Probe(began, began+%v, %v) mismatch (-want +got):\n%s",
					hold, tc.name, tc.after, tc.answered, diff)
			}
		}
	}
}
