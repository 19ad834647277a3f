package workloads

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidSpec is wrapped by every error Validate returns.
var ErrInvalidSpec = errors.New("workloads: invalid spec")

// Mode says how operations are paced.
type Mode string

const (
	// Closed is closed-loop pacing: each client keeps up to Outstanding
	// operations in flight and issues the next one as soon as one completes.
	// This measures saturation throughput.
	Closed Mode = "closed"
	// Open is open-loop pacing: operations are issued at Rate per second in
	// total, and each is timed from its intended start, so that a stalled
	// server shows up in the latency tail (coordinated omission corrected).
	Open Mode = "open"
)

// KeyDist is how keys are chosen from the key space.
type KeyDist string

const (
	// Uniform picks every key with equal probability.
	Uniform KeyDist = "uniform"
	// Zipfian picks key i (0-based) with probability proportional to
	// 1/(i+1)^ZipfS: key 0 is the hottest.
	Zipfian KeyDist = "zipfian"
)

// Defaults used by Default and Load.
const (
	DefaultValueSize   = 1024
	DefaultOutstanding = 100
	DefaultZipfS       = 0.99
	DefaultMultiSize   = 2
)

// OpWeight is one entry of an operation mix: operations of type Op are
// chosen with probability Weight / (sum of all weights).
type OpWeight struct {
	Op     OpType  `json:"op"`
	Weight float64 `json:"weight"`
}

// Spec describes a workload. Start from Default or Preset and change fields;
// the zero Spec is not valid.
type Spec struct {
	// Name labels the workload (a preset name, or anything).
	Name string `json:"name"`
	// ReadPercent is the share of reads, 0..100. Without a Mix, reads are
	// getData and writes setData. With a Mix it must equal the Mix's read
	// share (SetMix keeps them in step); a spec file may give write_percent
	// instead.
	ReadPercent float64 `json:"read_percent"`
	// Mix, when non-empty, is the weighted operation mix.
	Mix []OpWeight `json:"mix,omitempty"`
	// ValueSize is the size in bytes of every value written (and of the
	// values created in set-up, hence of every value read).
	ValueSize int `json:"value_size"`
	// Keys is the number of znodes in the key space.
	Keys int `json:"keys"`
	// Clients is the number of simulated clients, each with its own session.
	Clients int `json:"clients"`
	// Outstanding is how many operations each client keeps in flight at
	// most (GenerateLoad used 100; 1 is a strictly synchronous client).
	Outstanding int `json:"outstanding"`
	// Warmup is run before the measured part and excluded from results.
	// With WarmupMax it is the shortest warm-up.
	Warmup time.Duration `json:"warmup"`
	// WarmupMax, when positive, makes the warm-up automatic: it lasts at
	// least Warmup and ends once the throughput is steady (bench's rule),
	// or after WarmupMax if it never is.
	WarmupMax time.Duration `json:"warmup_max,omitempty"`
	// Duration is the measured part.
	Duration time.Duration `json:"duration"`
	// Mode is Closed or Open.
	Mode Mode `json:"mode"`
	// Rate is the target rate in operations per second over all clients
	// (open loop only; must be zero in closed loop).
	Rate float64 `json:"rate,omitempty"`
	// KeyDist is Uniform or Zipfian.
	KeyDist KeyDist `json:"key_dist"`
	// ZipfS is the Zipfian exponent (> 0); used only with Zipfian.
	ZipfS float64 `json:"zipf_s,omitempty"`
	// MultiSize is the number of setData operations in one multi.
	MultiSize int `json:"multi_size,omitempty"`
	// Seed makes the operation sequences reproducible.
	Seed int64 `json:"seed"`
}

// Default returns a valid spec with the defaults every preset starts from:
// 100 % reads of 1 KiB values over 1,000 keys, 10 clients with 100
// outstanding requests each, closed loop, uniform keys, 1 s warm-up and 10 s
// measured, seed 1.
func Default() Spec {
	return Spec{
		Name:        "default",
		ReadPercent: 100,
		ValueSize:   DefaultValueSize,
		Keys:        1000,
		Clients:     10,
		Outstanding: DefaultOutstanding,
		Warmup:      time.Second,
		Duration:    10 * time.Second,
		Mode:        Closed,
		KeyDist:     Uniform,
		ZipfS:       DefaultZipfS,
		MultiSize:   DefaultMultiSize,
		Seed:        1,
	}
}

// WritePercent returns 100 - ReadPercent.
func (s Spec) WritePercent() float64 { return 100 - s.ReadPercent }

// SetWritePercent sets the read/write ratio from the share of writes.
func (s *Spec) SetWritePercent(p float64) { s.ReadPercent = 100 - p }

// SetMix sets the operation mix and the ReadPercent it implies.
func (s *Spec) SetMix(mix []OpWeight) {
	s.Mix = append([]OpWeight(nil), mix...)
	s.ReadPercent = mixReadPercent(mix)
}

// EffectiveMix returns the mix the generators use: Mix if set, otherwise
// getData and setData weighted by ReadPercent. Zero weights are dropped.
func (s Spec) EffectiveMix() []OpWeight {
	var in []OpWeight
	if len(s.Mix) > 0 {
		in = s.Mix
	} else {
		in = []OpWeight{{GetData, s.ReadPercent}, {SetData, 100 - s.ReadPercent}}
	}
	out := make([]OpWeight, 0, len(in))
	for _, w := range in {
		if w.Weight > 0 {
			out = append(out, w)
		}
	}
	return out
}

func mixReadPercent(mix []OpWeight) float64 {
	var total, reads float64
	for _, w := range mix {
		total += w.Weight
		if w.Op.IsRead() {
			reads += w.Weight
		}
	}
	if total <= 0 {
		return 0
	}
	return 100 * reads / total
}

// ClientRate returns the open-loop rate of one client in operations per
// second (Rate spread evenly over Clients).
func (s Spec) ClientRate() float64 {
	if s.Clients <= 0 {
		return 0
	}
	return s.Rate / float64(s.Clients)
}

// IntendedStart returns when, relative to the start of the run, client's
// k-th operation (k from 0) is meant to start in open loop: clients issue at
// a constant rate, their phases spread evenly over one period so that the
// aggregate arrivals are smooth. It is a pure function of the spec.
func (s Spec) IntendedStart(client int, k int64) time.Duration {
	r := s.ClientRate()
	if r <= 0 {
		return 0
	}
	period := 1 / r // seconds
	phase := period * float64(client) / float64(s.Clients)
	return time.Duration((phase + float64(k)*period) * float64(time.Second))
}

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidSpec, field, fmt.Sprintf(format, args...))
}

// Validate reports the first problem that would stop the spec from running,
// naming the field (as spelled in spec files).
func (s Spec) Validate() error {
	if len(s.Mix) > 0 {
		var total float64
		seen := map[OpType]bool{}
		for i, w := range s.Mix {
			field := "mix[" + strconv.Itoa(i) + "]"
			if !w.Op.Valid() {
				return invalid(field+".op", "unknown operation %q (want one of %s)", w.Op.String(), strings.Join(OpNames(), ", "))
			}
			if seen[w.Op] {
				return invalid(field+".op", "%s listed twice", w.Op)
			}
			seen[w.Op] = true
			if bad(w.Weight) || w.Weight < 0 {
				return invalid(field+".weight", "%v is negative or not a number", w.Weight)
			}
			total += w.Weight
		}
		if total <= 0 {
			return invalid("mix", "weights sum to zero")
		}
		if got := mixReadPercent(s.Mix); math.Abs(got-s.ReadPercent) > 1e-6 {
			return invalid("read_percent", "%v disagrees with the mix, whose read share is %v%% (use SetMix, or omit read_percent in the file)", s.ReadPercent, got)
		}
	}
	if bad(s.ReadPercent) || s.ReadPercent < 0 || s.ReadPercent > 100 {
		return invalid("read_percent", "%v is not within 0..100", s.ReadPercent)
	}
	switch {
	case s.ValueSize < 0:
		return invalid("value_size", "%d is negative", s.ValueSize)
	case s.ValueSize > 1<<20-1024:
		return invalid("value_size", "%d exceeds ZooKeeper's default 1 MiB jute.maxbuffer", s.ValueSize)
	case s.Keys <= 0:
		return invalid("keys", "%d: need at least one key", s.Keys)
	case s.Clients <= 0:
		return invalid("clients", "%d: need at least one client", s.Clients)
	case s.Outstanding <= 0:
		return invalid("outstanding", "%d: need at least 1 (1 is a synchronous client)", s.Outstanding)
	case s.Warmup < 0:
		return invalid("warmup", "%v is negative", s.Warmup)
	case s.WarmupMax < 0 || s.WarmupMax > 0 && s.WarmupMax < s.Warmup:
		return invalid("warmup_max", "%v is negative or below warmup %v", s.WarmupMax, s.Warmup)
	case s.Duration <= 0:
		return invalid("duration", "%v: must be positive", s.Duration)
	}
	switch s.Mode {
	case Closed:
		if s.Rate != 0 {
			return invalid("rate", "%v given in closed loop (set mode: open for a target rate)", s.Rate)
		}
	case Open:
		if bad(s.Rate) || s.Rate <= 0 {
			return invalid("rate", "%v: open loop needs a positive target rate", s.Rate)
		}
	default:
		return invalid("mode", "unknown mode %q (want closed or open)", s.Mode)
	}
	switch s.KeyDist {
	case Uniform:
	case Zipfian:
		if bad(s.ZipfS) || s.ZipfS <= 0 {
			return invalid("zipf_s", "%v: the Zipfian exponent must be positive", s.ZipfS)
		}
	default:
		return invalid("key_dist", "unknown distribution %q (want uniform or zipfian)", s.KeyDist)
	}
	for _, w := range s.EffectiveMix() {
		if w.Op == Multi {
			if s.MultiSize <= 0 {
				return invalid("multi_size", "%d: a multi needs at least one operation", s.MultiSize)
			}
			if s.MultiSize > s.Keys {
				return invalid("multi_size", "%d exceeds keys (%d): a multi writes distinct keys", s.MultiSize, s.Keys)
			}
		}
	}
	return nil
}

func bad(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) }
