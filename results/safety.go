package results

import "time"

// Safety verdicts.
const (
	// SafetyPass: every check looked at everything and found no violation.
	SafetyPass = "PASS"
	// SafetyFail: at least one check found a violation.
	SafetyFail = "FAIL"
	// SafetyUnknown: no check failed, but some could not decide (a search
	// that timed out, a history too large to record, no final state). Never
	// to be read as a pass.
	SafetyUnknown = "UNKNOWN"
)

// Safety is the verdict on what a run's clients did and saw: the history of
// their operations on a subset of the keys, checked at the end against what
// ZooKeeper promises (package history): no acknowledged write lost, writes
// linearizable per key, each session's operations in order, reads never
// back in time within a session, no read of a value never written.
type Safety struct {
	// Verdict is SafetyPass, SafetyFail or SafetyUnknown.
	Verdict string `json:"verdict"`
	// Keys are the znodes whose every operation was recorded.
	Keys []string `json:"keys"`
	// Ops is the number of operations recorded (warm-up included).
	Ops int `json:"ops"`
	// Checks are the checks' verdicts, in the order they ran.
	Checks []SafetyCheck `json:"checks"`
	// Note says why the verdict is Unknown when no check says it (for
	// example: the recording stopped at its limit).
	Note string `json:"note,omitempty"`
}

// SafetyCheck is one check's verdict.
type SafetyCheck struct {
	// Name is the check's name (history's CheckLostWrites, ...).
	Name string `json:"name"`
	// Verdict is SafetyPass, SafetyFail or SafetyUnknown.
	Verdict string `json:"verdict"`
	// Summary says what was checked, in numbers.
	Summary string `json:"summary"`
	// Findings are the violations (or, for Unknown, what was undecided).
	Findings []SafetyFinding `json:"findings,omitempty"`
}

// SafetyFinding is one violation with the operations that show it.
type SafetyFinding struct {
	// Key and Session are the znode and session concerned, if one.
	Key     string `json:"key,omitempty"`
	Session int64  `json:"session,omitempty"`
	// Message says what is wrong.
	Message string `json:"message"`
	// From and To span the operations involved, as offsets from
	// Result.Start (negative in the warm-up); both zero when no operation
	// has a time (the final read alone).
	From time.Duration `json:"from_ns"`
	To   time.Duration `json:"to_ns"`
	// Ops are the operations involved, in the order that matters, as text.
	Ops []string `json:"ops,omitempty"`
}

// Violated reports whether s records a violation.
func (s *Safety) Violated() bool { return s != nil && s.Verdict == SafetyFail }
