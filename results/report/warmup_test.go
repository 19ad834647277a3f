package report

import (
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/synth"
	"github.com/zkbench/zkbench/results"
)

// The run's summary says how its warm-up went: fixed, steady after a
// while, or never steady (loudly).
func TestSummaryWarmupLine(t *testing.T) {
	for _, tc := range []struct {
		w    *results.Warmup
		want string
	}{
		{nil, "| warm-up | 1s, fixed |"},
		{&results.Warmup{Took: 8100 * time.Millisecond, Settled: true, CV: 0.02, Drift: 0.01}, "| warm-up | 8.1s, until steady (CV 2.0%, drift 1.0%) |"},
		{&results.Warmup{Took: 30 * time.Second, Settled: false, CV: 0.12, Drift: 0.2}, "| warm-up | **30s, never steady** (CV 12.0%, drift 20.0%): the measured part may hold a climb |"},
	} {
		r := synth.Result(synth.Options{Seed: 1})
		r.Spec.Warmup, r.Warmup = time.Second, tc.w
		var b strings.Builder
		if err := Summary(&b, r, nil); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("summary lacks %q:\n%s", tc.want, b.String())
		}
	}
}
