package plot

import (
	"testing"

	"github.com/zkbench/zkbench/harness"
)

// Every fault a schedule can name is marked on the graphs: as a failure,
// or as a repair for restart, thaw and heal.
func TestEveryFaultIsMarked(t *testing.T) {
	for _, f := range harness.Faults() {
		if f.Repairs() && !repairs[f.Name()] {
			t.Errorf("repair %q is not marked on the graphs", f.Name())
		}
		if !f.Repairs() && !failures[f.Name()] {
			t.Errorf("fault %q is not marked on the graphs", f.Name())
		}
	}
}
