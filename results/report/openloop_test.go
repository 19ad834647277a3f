package report

import (
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/synth"
	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/workloads"
)

// behind is an open-loop run that completed operations inside its measured
// part (its throughput) but none of those scheduled there: no latency,
// everything it was offered there unfinished.
func behind(tput float64) *results.Result {
	r := synth.Result(synth.Options{Servers: 3, ReadPercent: 70, Duration: 2 * time.Second, Throughput: tput, Seed: 3})
	r.Spec.Mode, r.Spec.Rate = workloads.Open, 3*tput
	r.Latency = nil
	for _, st := range r.Ops {
		st.Latency = results.Latency{}
	}
	r.Driver.Unfinished = int64(3 * tput * 2)
	return r
}

// A run without a latency did not meet a latency target, however much it
// completed.
func TestCapacityIgnoresRunsWithoutLatency(t *testing.T) {
	ok := synth.Result(synth.Options{Servers: 3, ReadPercent: 70, Duration: 2 * time.Second, Throughput: 5000, Latency: time.Millisecond, Seed: 1})
	plan, err := Capacity([]*results.Result{ok, behind(20000)}, nil, CapacityOptions{P99: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c, found := plan.cell("go", 3, 70)
	if !found || c.Capacity > 6000 {
		t.Errorf("capacity %+v: the open-loop run that measured no latency counted as meeting the p99 target", c)
	}
}

// The summary of an open-loop run that fell behind says how many of the
// operations scheduled in the measured part were unfinished.
func TestSummaryShowsUnfinished(t *testing.T) {
	var b strings.Builder
	if err := Summary(&b, behind(1000), nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "| unfinished | 6000 ") {
		t.Errorf("summary lacks the unfinished operations:\n%s", b.String())
	}
}
