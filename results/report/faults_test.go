package report

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/results"
)

// Every fault a schedule can name that is not a repair opens a line of
// the fault summary.
func TestFaultSummaryEveryFault(t *testing.T) {
	for _, f := range harness.Faults() {
		if f.Repairs() {
			continue
		}
		r := run(1, 10000)
		r.Events = []results.Event{
			{At: time.Second, Name: f.Name(), Detail: fmt.Sprintf("1: %s server 3 (leader)", f.Name())},
			{At: 2 * time.Second, Name: "recovered", Detail: "1: writes served again after 1s"},
		}
		got := strings.Join(FaultSummary(r), "\n")
		if want := fmt.Sprintf("event 1 at 1.0s: %s server 3 (leader); writes served again after 1s", f.Name()); got != want {
			t.Errorf("%s: FaultSummary %q, want %q", f.Name(), got, want)
		}
	}
}
