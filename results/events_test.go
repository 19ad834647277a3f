package results_test

import (
	"testing"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/results"
)

// Every fault a schedule can name is known to the results as a failure,
// or as a repair for restart, thaw, heal and disk-heal, so that graphs and
// reports mark it.
func TestEveryFaultIsAFailureOrARepair(t *testing.T) {
	for _, f := range harness.Faults() {
		ev := results.Event{Name: f.Name()}
		if f.Repairs() && (!ev.IsRepair() || ev.IsFailure()) {
			t.Errorf("repair %q: IsRepair %v, IsFailure %v", f.Name(), ev.IsRepair(), ev.IsFailure())
		}
		if !f.Repairs() && (!ev.IsFailure() || ev.IsRepair()) {
			t.Errorf("fault %q: IsFailure %v, IsRepair %v", f.Name(), ev.IsFailure(), ev.IsRepair())
		}
	}
	for _, name := range []string{"elected", "recovered", "leader", ""} {
		if ev := (results.Event{Name: name}); ev.IsFailure() || ev.IsRepair() {
			t.Errorf("%q counted as a failure or repair", name)
		}
	}
}
