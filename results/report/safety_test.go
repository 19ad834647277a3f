package report

import (
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/synth"
	"github.com/zkbench/zkbench/results"
)

// A violation is in the run's report with its check, key, span and
// operations, and in the one-line verdict.
func TestSummaryShowsViolation(t *testing.T) {
	r := synth.Result(synth.Options{Servers: 3, ReadPercent: 70, Duration: 10 * time.Second, Throughput: 1000, Seed: 1})
	r.Safety = &results.Safety{Verdict: results.SafetyFail, Keys: []string{"/zkbench/k0000000"}, Ops: 42, Checks: []results.SafetyCheck{
		{Name: "reads", Verdict: results.SafetyPass, Summary: "20 successful reads"},
		{Name: "lost-writes", Verdict: results.SafetyFail, Summary: "3 acknowledged writes on 1 keys", Findings: []results.SafetyFinding{{
			Key: "/zkbench/k0000000", Message: "acknowledged write #7 was lost", From: 2500 * time.Millisecond, To: 2600 * time.Millisecond,
			Ops: []string{`#7 c1 s0x5 write(/zkbench/k0000000, "t.1.0.3") @[4.5s, 4.6s] -> ok`, `the final read: read(/zkbench/k0000000) -> "init"`},
		}}},
	}}
	var b strings.Builder
	if err := Summary(&b, r, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Safety", "**FAIL**", "| lost-writes | FAIL |", "key /zkbench/k0000000: acknowledged write #7 was lost (2.50 s to 2.60 s)", `write(/zkbench/k0000000, "t.1.0.3")`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	if line := SafetyLine(r); !strings.Contains(line, "safety: FAIL over 42 operations on 1 keys (lost-writes FAIL: 1)") {
		t.Errorf("line %q", line)
	}
	r.Safety = nil
	b.Reset()
	if err := Summary(&b, r, nil); err != nil || strings.Contains(b.String(), "Safety") || SafetyLine(r) != "" {
		t.Errorf("an unchecked run mentions safety: %v\n%s", err, b.String())
	}
}
