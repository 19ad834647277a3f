package harness

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TargetKind says how a step picks its server.
type TargetKind int

// Target kinds.
const (
	TargetID       TargetKind = iota // a fixed server id
	TargetLeader                     // the current leader
	TargetFollower                   // a running follower (least recently targeted first)
	TargetObserver                   // a running observer
	TargetAny                        // any running server
	TargetRef                        // "it" (the previous step's server) or a name bound with "as"
)

// Target names the server a step acts on.
type Target struct {
	Kind TargetKind
	ID   int    // for TargetID
	Ref  string // for TargetRef: "it" or a name
}

func (t Target) String() string {
	switch t.Kind {
	case TargetID:
		return strconv.Itoa(t.ID)
	case TargetLeader:
		return "leader"
	case TargetFollower:
		return "follower"
	case TargetObserver:
		return "observer"
	case TargetAny:
		return "any"
	}
	return t.Ref
}

// Step is one line of a schedule: at At, apply Action to Target.
type Step struct {
	At     time.Duration
	Action Action
	Target Target
	Arg    time.Duration // the latency of a "delay" step, the fsync delay of "fsync-slow"
	As     string        // binds the chosen server to this name
	Note   string        // free text carried into the Event (e.g. the paper's event number)
	Line   int           // line in the source text (0 if built in code)
}

// Schedule is a list of steps in time order.
type Schedule struct {
	Name  string
	Steps []Step
}

// Duration is the time of the last step.
func (s Schedule) Duration() time.Duration {
	if len(s.Steps) == 0 {
		return 0
	}
	return s.Steps[len(s.Steps)-1].At
}

// String renders the schedule in the text form ParseSchedule reads.
func (s Schedule) String() string {
	var b strings.Builder
	for _, st := range s.Steps {
		fmt.Fprintf(&b, "at %v %s %s", st.At, st.Action, st.Target)
		if st.Action.TakesArg() {
			fmt.Fprintf(&b, " %v", st.Arg)
		}
		if st.As != "" {
			fmt.Fprintf(&b, " as %s", st.As)
		}
		if st.Note != "" {
			fmt.Fprintf(&b, " # %s", st.Note)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

var reserved = map[string]bool{"leader": true, "follower": true, "observer": true, "any": true, "it": true, "at": true, "as": true}

// ParseSchedule reads a schedule. Each statement, on its own line or
// separated by ';', is
//
//	at <duration> <action> <target> [<delay>] [as <name>]
//
// with action one of kill, restart, freeze, thaw, partition, partition-in,
// partition-out, heal, delay (partition-in and partition-out are one-way:
// what the server receives from its peers, or what it sends them, is lost;
// heal undoes any partition), or a disk fault: disk-full, fsync-slow,
// fsync-fail, disk-heal (undoes those three), power-loss (kill -9 and drop
// what was not fsynced; restart undoes it), or a replacement: replace-go,
// replace-java (Replace: a clean stop, then the other implementation on
// the same data and ports; the next step waits until it serves; a role
// target picks among the servers not running that implementation yet),
// crash-replace-go, crash-replace-java (the same after a kill -9);
// target one of leader, follower, observer, any, a server id, "it" (the
// server of the previous statement) or a name bound earlier with "as".
// "delay" takes a latency ("at 5s delay follower 50ms"), "fsync-slow" the
// delay of each fsync ("at 5s fsync-slow leader 200ms"). '#' starts a
// comment, which becomes the step's Note. Times must not decrease.
// Errors name the line.
func ParseSchedule(text string) (Schedule, error) {
	var sched Schedule
	bound := map[string]bool{}
	var last time.Duration
	for ln, line := range strings.Split(text, "\n") {
		lineNo := ln + 1
		note := ""
		if i := strings.IndexByte(line, '#'); i >= 0 {
			note = strings.TrimSpace(line[i+1:])
			line = line[:i]
		}
		for _, stmt := range strings.Split(line, ";") {
			f := strings.Fields(stmt)
			if len(f) == 0 {
				continue
			}
			st, err := parseStep(f, bound, len(sched.Steps) > 0)
			if err != nil {
				return Schedule{}, fmt.Errorf("harness: schedule line %d: %q: %w", lineNo, strings.TrimSpace(stmt), err)
			}
			if st.At < last {
				return Schedule{}, fmt.Errorf("harness: schedule line %d: time %v is before the previous step's %v", lineNo, st.At, last)
			}
			last = st.At
			st.Line, st.Note = lineNo, note
			if st.As != "" {
				bound[st.As] = true
			}
			sched.Steps = append(sched.Steps, st)
		}
	}
	if len(sched.Steps) == 0 {
		return Schedule{}, errors.New("harness: schedule has no steps")
	}
	return sched, nil
}

// ReadScheduleFile parses the schedule in the named file; errors name the
// file and line.
func ReadScheduleFile(path string) (Schedule, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Schedule{}, fmt.Errorf("harness: schedule: %w", err)
	}
	s, err := ParseSchedule(string(b))
	if err != nil {
		return Schedule{}, fmt.Errorf("%s: %w", path, err)
	}
	s.Name = filepath.Base(path)
	return s, nil
}

func parseStep(f []string, bound map[string]bool, havePrev bool) (Step, error) {
	var st Step
	if len(f) < 4 || f[0] != "at" {
		return st, errors.New(`want "at <duration> <action> <target> [<delay>] [as <name>]"`)
	}
	d, err := time.ParseDuration(f[1])
	if err != nil || d < 0 {
		return st, fmt.Errorf("bad time %q (want e.g. 10s, 1m30s)", f[1])
	}
	st.At = d
	st.Action = Action(f[2])
	if _, ok := FaultByName(f[2]); !ok {
		names := []string{}
		for _, fl := range Faults() {
			names = append(names, fl.Name())
		}
		return st, fmt.Errorf("unknown action %q (want one of %s)", f[2], strings.Join(names, ", "))
	}
	switch t := f[3]; t {
	case "leader":
		st.Target.Kind = TargetLeader
	case "follower":
		st.Target.Kind = TargetFollower
	case "observer":
		st.Target.Kind = TargetObserver
	case "any":
		st.Target.Kind = TargetAny
	case "it":
		if !havePrev {
			return st, errors.New(`"it" needs a previous step`)
		}
		st.Target = Target{Kind: TargetRef, Ref: "it"}
	default:
		if id, err := strconv.Atoi(t); err == nil {
			if id < 1 {
				return st, fmt.Errorf("server id %d: ids start at 1", id)
			}
			st.Target = Target{Kind: TargetID, ID: id}
		} else if bound[t] {
			st.Target = Target{Kind: TargetRef, Ref: t}
		} else {
			return st, fmt.Errorf("unknown target %q (want leader, follower, observer, any, an id, it, or a name bound earlier with \"as\")", t)
		}
	}
	rest := f[4:]
	if st.Action.TakesArg() {
		if len(rest) == 0 {
			if st.Action == Delay {
				return st, errors.New(`"delay" needs a latency, e.g. "delay follower 50ms"`)
			}
			return st, errors.New(`"fsync-slow" needs a duration, the delay of each fsync, e.g. "fsync-slow leader 200ms"`)
		}
		if st.Arg, err = time.ParseDuration(rest[0]); err != nil || st.Arg < 0 {
			return st, fmt.Errorf("bad latency %q", rest[0])
		}
		rest = rest[1:]
	}
	if len(rest) > 0 {
		if rest[0] != "as" || len(rest) != 2 {
			return st, fmt.Errorf("unexpected %q (want \"as <name>\")", strings.Join(rest, " "))
		}
		name := rest[1]
		if reserved[name] {
			return st, fmt.Errorf("%q is reserved and cannot name a server", name)
		}
		if _, err := strconv.Atoi(name); err == nil {
			return st, fmt.Errorf("%q is a number and cannot name a server", name)
		}
		st.As = name
	}
	return st, nil
}

// Validate checks a schedule against an ensemble of the given size.
func (s Schedule) Validate(servers int) error {
	for _, st := range s.Steps {
		if st.Target.Kind == TargetID && st.Target.ID > servers {
			return fmt.Errorf("harness: schedule line %d: server %d does not exist (ensemble has %d)", st.Line, st.Target.ID, servers)
		}
	}
	return nil
}

// PaperSchedule reproduces the five events of the reliability figure of the
// ZooKeeper paper, scaled to a run of length d: (1) a follower fails and
// recovers, (2) a different follower fails and recovers, (3) the leader
// fails (and comes back as a follower), (4) two followers fail and recover,
// (5) another leader fails (and comes back). Each failure lasts d/15.
// On 3 servers event 4 leaves no quorum until the followers come back.
func PaperSchedule(d time.Duration) Schedule {
	at := func(frac float64) time.Duration { return time.Duration(frac * float64(d)).Round(time.Millisecond) }
	down := d / 15
	mk := func(t time.Duration, a Action, tgt Target, as, note string) Step {
		return Step{At: t, Action: a, Target: tgt, As: as, Note: note}
	}
	ref := func(n string) Target { return Target{Kind: TargetRef, Ref: n} }
	fol, lead := Target{Kind: TargetFollower}, Target{Kind: TargetLeader}
	return Schedule{Name: "paper", Steps: []Step{
		mk(at(0.10), Kill, fol, "f1", "1"),
		mk(at(0.10)+down, Restart, ref("f1"), "", "1"),
		mk(at(0.25), Kill, fol, "f2", "2"),
		mk(at(0.25)+down, Restart, ref("f2"), "", "2"),
		mk(at(0.40), Kill, lead, "l1", "3"),
		mk(at(0.40)+down, Restart, ref("l1"), "", "3"),
		mk(at(0.60), Kill, fol, "f3", "4"),
		mk(at(0.60), Kill, fol, "f4", "4"),
		mk(at(0.60)+down, Restart, ref("f3"), "", "4"),
		mk(at(0.60)+down, Restart, ref("f4"), "", "4"),
		mk(at(0.80), Kill, lead, "l2", "5"),
		mk(at(0.80)+down, Restart, ref("l2"), "", "5"),
	}}
}

// RandomOptions shape a random schedule.
type RandomOptions struct {
	// Duration of the run; every fault is repaired before it ends.
	Duration time.Duration
	// Servers is the number of voters; at most (Servers-1)/2 are faulted at
	// once unless MaxQuorumLoss allows more.
	Servers int
	// Faults to choose from: kill, freeze, partition, partition-in,
	// partition-out (default kill, freeze).
	Faults []Action
	// MeanGap is the mean time between faults (default Duration/8).
	MeanGap time.Duration
	// MinDown and MaxDown bound how long a fault lasts (defaults 1s, 5s).
	MinDown, MaxDown time.Duration
	// Warmup is the time before the first fault (default MeanGap).
	Warmup time.Duration
	// MaxQuorumLoss is the longest a fault may leave fewer than a quorum of
	// voters unfaulted; 0 means never.
	MaxQuorumLoss time.Duration
	// LeaderShare is the share of faults aimed at the leader (default 0.25).
	LeaderShare float64
}

var repairOf = map[Action]Action{Kill: Restart, Freeze: Thaw, Partition: Heal, PartitionIn: Heal, PartitionOut: Heal,
	DiskFull: DiskHeal, FsyncFail: DiskHeal, PowerLoss: Restart}

// RandomSchedule draws a schedule from rng: faults at random gaps, each
// aimed at the leader or a follower and repaired after a random time,
// never leaving the ensemble without a quorum for longer than
// o.MaxQuorumLoss (assuming a repaired server serves at once).
func RandomSchedule(rng *rand.Rand, o RandomOptions) (Schedule, error) {
	if o.Duration <= 0 || o.Servers < 1 {
		return Schedule{}, fmt.Errorf("harness: random schedule: need a duration and servers, got %v and %d", o.Duration, o.Servers)
	}
	if len(o.Faults) == 0 {
		o.Faults = []Action{Kill, Freeze}
	}
	for _, a := range o.Faults {
		if _, ok := repairOf[a]; !ok {
			return Schedule{}, fmt.Errorf("harness: random schedule: %q is not a fault with a repair (want kill, freeze, partition, partition-in, partition-out, disk-full, fsync-fail or power-loss)", a)
		}
	}
	if o.MeanGap <= 0 {
		o.MeanGap = o.Duration / 8
	}
	if o.MinDown <= 0 {
		o.MinDown = time.Second
	}
	if o.MaxDown < o.MinDown {
		o.MaxDown = max(o.MinDown, 5*time.Second)
	}
	if o.Warmup <= 0 {
		o.Warmup = o.MeanGap
	}
	if o.LeaderShare == 0 {
		o.LeaderShare = 0.25
	}
	tolerated := (o.Servers - 1) / 2
	type window struct{ from, to time.Duration }
	var downs []window
	// lossWith is how long [from,to) would leave fewer than a quorum if
	// one more server were down during it.
	lossWith := func(from, to time.Duration) time.Duration {
		points := []time.Duration{from, to}
		for _, w := range downs {
			for _, p := range []time.Duration{w.from, w.to} {
				if p > from && p < to {
					points = append(points, p)
				}
			}
		}
		slices.Sort(points)
		var lost time.Duration
		for i := 0; i+1 < len(points); i++ {
			mid := points[i] + (points[i+1]-points[i])/2
			n := 1
			for _, w := range downs {
				if w.from <= mid && mid < w.to {
					n++
				}
			}
			if n > tolerated {
				lost += points[i+1] - points[i]
			}
		}
		return lost
	}
	var steps []Step
	t := o.Warmup
	for k := 1; ; k++ {
		down := o.MinDown + time.Duration(rng.Int64N(int64(o.MaxDown-o.MinDown)+1))
		down = down.Round(time.Millisecond)
		if t+down >= o.Duration {
			break
		}
		if lossWith(t, t+down) <= o.MaxQuorumLoss {
			a := o.Faults[rng.IntN(len(o.Faults))]
			tgt := Target{Kind: TargetFollower}
			if rng.Float64() < o.LeaderShare {
				tgt.Kind = TargetLeader
			}
			name := fmt.Sprintf("r%d", k)
			steps = append(steps,
				Step{At: t, Action: a, Target: tgt, As: name},
				Step{At: t + down, Action: repairOf[a], Target: Target{Kind: TargetRef, Ref: name}})
			downs = append(downs, window{t, t + down})
		}
		gap := o.MeanGap/2 + time.Duration(rng.Int64N(int64(o.MeanGap)+1))
		t = (t + gap).Round(time.Millisecond)
	}
	slices.SortStableFunc(steps, func(a, b Step) int {
		switch {
		case a.At < b.At:
			return -1
		case a.At > b.At:
			return 1
		}
		return 0
	})
	return Schedule{Name: "random", Steps: steps}, nil
}
