package history

import (
	"errors"
	"fmt"
	"strings"
)

// Verdict is a checker's conclusion.
type Verdict uint8

const (
	// Pass: the checker looked at everything and found no violation.
	Pass Verdict = iota
	// Fail: the checker found at least one violation.
	Fail
	// Unknown: the checker could not decide (it timed out, or lacked the
	// data it needs). Never to be read as a pass.
	Unknown
)

func (v Verdict) String() string {
	switch v {
	case Pass:
		return "PASS"
	case Fail:
		return "FAIL"
	case Unknown:
		return "UNKNOWN"
	}
	return fmt.Sprintf("Verdict(%d)", uint8(v))
}

// Names of the checks, as they appear in a Report.
const (
	CheckWellFormed   = "well-formed"    // the history is one the checkers can judge
	CheckReads        = "reads"          // every read returns a value some write could have produced
	CheckLinearizable = "linearizable"   // writes and synced reads, per key, by porcupine
	CheckSession      = "session-order"  // each session sees its own operations in order
	CheckNoTimeTravel = "no-time-travel" // a session never sees a znode go back in time
	CheckStats        = "stats"          // zxids and versions agree with each other and with real time
	CheckLostWrites   = "lost-writes"    // every acknowledged write survives in the final state
	CheckConverged    = "converged"      // after healing, every server that answered has the same data
)

// Finding is one violation (or, in an Unknown result, one thing that could
// not be decided), with the operations that show it.
type Finding struct {
	Key     string // the key concerned, if one
	Session int64  // the session concerned, if one
	Message string
	Ops     []Operation // the offending sequence, in the order that matters
}

func (f Finding) String() string {
	var b strings.Builder
	if f.Key != "" {
		fmt.Fprintf(&b, "key %s: ", f.Key)
	}
	if f.Session != 0 {
		fmt.Fprintf(&b, "session %#x: ", f.Session)
	}
	b.WriteString(f.Message)
	for _, o := range f.Ops {
		b.WriteString("\n      ")
		b.WriteString(o.String())
	}
	return b.String()
}

// CheckResult is one checker's verdict with its findings.
type CheckResult struct {
	Name     string
	Verdict  Verdict
	Summary  string    // what was checked, in numbers
	Findings []Finding // violations (Fail) or undecided items (Unknown)
}

// Report is the result of every checker.
type Report struct {
	Results []CheckResult
}

// OK reports whether every check passed. Unknown is not OK.
func (r Report) OK() bool {
	for _, c := range r.Results {
		if c.Verdict != Pass {
			return false
		}
	}
	return true
}

// Get returns the result of the named check.
func (r Report) Get(name string) (CheckResult, bool) {
	for _, c := range r.Results {
		if c.Name == name {
			return c, true
		}
	}
	return CheckResult{}, false
}

// ErrViolation is wrapped by Report.Err when a check failed.
var ErrViolation = errors.New("history: violation")

// ErrUndecided is wrapped by Report.Err when no check failed but some could
// not decide.
var ErrUndecided = errors.New("history: undecided")

// Err returns nil if every check passed, and otherwise an error wrapping
// ErrViolation or ErrUndecided whose text is the whole report.
func (r Report) Err() error {
	if r.OK() {
		return nil
	}
	for _, c := range r.Results {
		if c.Verdict == Fail {
			return fmt.Errorf("%w:\n%s", ErrViolation, r)
		}
	}
	return fmt.Errorf("%w:\n%s", ErrUndecided, r)
}

// maxFindingsShown bounds how many findings String prints per check.
const maxFindingsShown = 10

func (r Report) String() string {
	var b strings.Builder
	for _, c := range r.Results {
		fmt.Fprintf(&b, "%-7s %s: %s\n", c.Verdict, c.Name, c.Summary)
		for i, f := range c.Findings {
			if i == maxFindingsShown {
				fmt.Fprintf(&b, "    ... and %d more\n", len(c.Findings)-i)
				break
			}
			fmt.Fprintf(&b, "    - %s\n", f)
		}
	}
	return b.String()
}

func result(name, summary string, findings []Finding, undecided []Finding) CheckResult {
	switch {
	case len(findings) > 0:
		return CheckResult{Name: name, Verdict: Fail, Summary: summary, Findings: findings}
	case len(undecided) > 0:
		return CheckResult{Name: name, Verdict: Unknown, Summary: summary, Findings: undecided}
	}
	return CheckResult{Name: name, Verdict: Pass, Summary: summary}
}
