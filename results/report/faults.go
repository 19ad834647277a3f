package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/zkbench/zkbench/results"
)

// FaultSummary returns one line per numbered schedule event of r (events
// whose Detail starts with "N: ", as package experiment writes them): what
// failed, how long until a new leader was elected and until writes were
// served again, measured from the failure.
func FaultSummary(r *results.Result) []string {
	type fault struct {
		at        time.Duration
		what      []string
		elected   []time.Duration
		recovered []time.Duration
	}
	var order []int
	faults := map[int]*fault{}
	for _, ev := range r.Events {
		head, rest, ok := strings.Cut(ev.Detail, ": ")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(head)
		if err != nil {
			continue
		}
		f := faults[n]
		switch {
		case ev.IsFailure():
			if f == nil {
				f = &fault{at: ev.At}
				faults[n] = f
				order = append(order, n)
			}
			f.what = append(f.what, rest)
		case ev.Name == "elected":
			if f != nil {
				f.elected = append(f.elected, ev.At-f.at)
			}
		case ev.Name == "recovered":
			if f != nil {
				f.recovered = append(f.recovered, ev.At-f.at)
			}
		}
	}
	var out []string
	for _, n := range order {
		f := faults[n]
		line := fmt.Sprintf("event %d at %.1fs: %s", n, f.at.Seconds(), strings.Join(f.what, ", "))
		for _, d := range f.elected {
			line += fmt.Sprintf("; new leader after %v", d.Round(time.Millisecond))
		}
		if len(f.recovered) > 0 {
			worst := f.recovered[0]
			for _, d := range f.recovered {
				worst = max(worst, d)
			}
			line += fmt.Sprintf("; writes served again after %v", worst.Round(time.Millisecond))
		}
		out = append(out, line)
	}
	return out
}
