package perf

import (
	"fmt"
	"strconv"
)

// Verdict is how a point fares against its target.
type Verdict int

// The verdicts. Unknown means the target needs a figure that was not
// measured (the no-op bound without --bound, or Java's throughput).
const (
	NoTarget Verdict = iota
	Met
	Missed
	Unknown
)

// String renders the verdict for a report's table.
func (v Verdict) String() string {
	switch v {
	case Met:
		return "yes"
	case Missed:
		return "**no**"
	case Unknown:
		return "? (not measured)"
	}
	return "no target"
}

// verdictWords are the verdicts as report.json writes them.
var verdictWords = [...]string{NoTarget: "none", Met: "met", Missed: "missed", Unknown: "unknown"}

// MarshalText makes a verdict read well in report.json.
func (v Verdict) MarshalText() ([]byte, error) {
	if v < 0 || int(v) >= len(verdictWords) {
		return nil, fmt.Errorf("perf: verdict %d out of range", int(v))
	}
	return []byte(verdictWords[v]), nil
}

// UnmarshalText reads a verdict as MarshalText writes it.
func (v *Verdict) UnmarshalText(b []byte) error {
	for i, w := range verdictWords {
		if string(b) == w {
			*v = Verdict(i)
			return nil
		}
	}
	return fmt.Errorf("perf: verdict %q: want none, met, missed or unknown", b)
}

// ThroughputTarget is the throughput a closed-loop point is judged by: Go
// at least Ratio times Java's throughput, or, where Ratio times Java's would
// pass Past times the no-op bound, at least OfBound of the bound; and, when
// Floor is positive, at least Floor of the bound as well. Medians over the
// repetitions are compared.
type ThroughputTarget struct {
	Ratio   float64 `json:"ratio"`
	OfBound float64 `json:"of_bound"`
	Past    float64 `json:"past"`
	Floor   float64 `json:"floor,omitempty"`
	// Source names the issue each part comes from.
	Source string `json:"source"`
}

// TargetFor is the throughput target of a point: synchronous sessions
// (outstanding 1) by issue 19, 3x Java or 0.7 of the no-op bound where that
// comes first; pipelined ones by issue 9, 3x Java or 0.85 of the bound
// where 3x Java would pass the bound, and at 7 servers also issue 19's
// shares of the bound, 0.5 at 70 % reads and 0.25 at 0 % reads.
func TargetFor(outstanding, size int, reads float64) ThroughputTarget {
	if outstanding == 1 {
		return ThroughputTarget{Ratio: 3, OfBound: 0.7, Past: 0.7, Source: "issue 19, synchronous sessions"}
	}
	t := ThroughputTarget{Ratio: 3, OfBound: 0.85, Past: 1, Source: "issue 9"}
	if size == 7 {
		switch reads {
		case 70:
			t.Floor = 0.5
		case 0:
			t.Floor = 0.25
		}
		if t.Floor > 0 {
			t.Source = "issue 9; the bound share issue 19, pipelined at 7 servers"
		}
	}
	return t
}

// String states the target as the report prints it.
func (t ThroughputTarget) String() string {
	g := strconv.FormatFloat
	s := fmt.Sprintf("Go/Java >= %s, or Go/bound >= %s where ", g(t.Ratio, 'g', -1, 64), g(t.OfBound, 'g', -1, 64))
	if t.Past == t.OfBound {
		s += "that comes first"
	} else if t.Past == 1 {
		s += fmt.Sprintf("%sx Java would pass the bound", g(t.Ratio, 'g', -1, 64))
	} else {
		s += fmt.Sprintf("%sx Java would pass %s of the bound", g(t.Ratio, 'g', -1, 64), g(t.Past, 'g', -1, 64))
	}
	if t.Floor > 0 {
		s += fmt.Sprintf("; and Go/bound >= %s", g(t.Floor, 'g', -1, 64))
	}
	return s + " (" + t.Source + ")"
}

// Judge judges p by t.
func (t ThroughputTarget) Judge(p Point) Verdict {
	if p.Ratio.N == 0 {
		return Unknown
	}
	bound := p.Noop.N > 0 && p.GoOfNoop.N > 0
	main := Met
	if p.Ratio.Median < t.Ratio {
		switch {
		case !bound:
			main = Unknown
		case t.Ratio*p.Java.Median > t.Past*p.Noop.Median && p.GoOfNoop.Median >= t.OfBound:
			main = Met
		default:
			main = Missed
		}
	}
	floor := Met
	if t.Floor > 0 {
		switch {
		case !bound:
			floor = Unknown
		case p.GoOfNoop.Median < t.Floor:
			floor = Missed
		}
	}
	switch {
	case main == Missed || floor == Missed:
		return Missed
	case main == Unknown || floor == Unknown:
		return Unknown
	}
	return Met
}

// LatencyRatio is issue 19's latency target at a fixed offered rate: Go's
// p99 and p99.9 at most this share of Java's.
const LatencyRatio = 0.5

// latencyTargeted reports whether issue 19 sets a latency target at rate:
// 50 % and 90 % of Java's saturation throughput.
func latencyTargeted(r Rate) bool { return r.Fraction == 0.5 || r.Fraction == 0.9 }

// latencyTargetText states the latency target of rate, as the rate table
// prints it.
func latencyTargetText(r Rate) string {
	if !latencyTargeted(r) {
		return "no target (issue 19 sets 50% and 90%)"
	}
	return fmt.Sprintf("p99 and p99.9 <= %gx Java (issue 19)", LatencyRatio)
}
