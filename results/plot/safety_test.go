package plot

import (
	"testing"
	"time"

	gplot "gonum.org/v1/plot"

	"github.com/zkbench/zkbench/results"
)

// A safety violation is a red band over the span of its operations on the
// throughput graph; a passing verdict draws none.
func TestViolationBand(t *testing.T) {
	r := reliability()
	r.Safety = &results.Safety{Verdict: results.SafetyPass}
	if b, err := markViolations(gplot.New(), r.Safety, 100, 0.1); err != nil || len(b) != 0 {
		t.Fatalf("a passing run has %d bands (%v)", len(b), err)
	}
	r.Safety = &results.Safety{Verdict: results.SafetyFail, Checks: []results.SafetyCheck{
		{Name: "lost-writes", Verdict: results.SafetyFail, Findings: []results.SafetyFinding{{Message: "lost", From: 12 * time.Second, To: 14 * time.Second}}},
		{Name: "reads", Verdict: results.SafetyPass},
	}}
	b, err := markViolations(gplot.New(), r.Safety, 100, 0.1)
	if err != nil || len(b) != 1 {
		t.Fatalf("%d bands, want 1", len(b))
	}
	xmin, xmax, _, _ := b[0].DataRange()
	if xmin != 12 || xmax != 14 {
		t.Errorf("band spans %g..%g s, want 12..14", xmin, xmax)
	}
	if _, err := Throughput([]Run{{Label: "go", Result: r}}, Options{}); err != nil {
		t.Fatalf("a graph with a violation: %v", err)
	}
}
