package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/workloads"
)

// Errors callers branch on.
var (
	// ErrInvalidOptions wraps every problem with Options found before the
	// run starts.
	ErrInvalidOptions = errors.New("bench: invalid options")
	// ErrUnreachable is returned when a member cannot be dialled or does
	// not establish a session in time; the error names the address.
	ErrUnreachable = errors.New("bench: ensemble unreachable")
)

// Roles a Target may have.
const (
	RoleLeader     = "leader"
	RoleFollower   = "follower"
	RoleObserver   = "observer"
	RoleStandalone = "standalone"
)

// Placements.
const (
	// RoundRobin places client i on member i mod len(Targets).
	RoundRobin = "roundrobin"
	// Followers places clients round-robin on the followers (and
	// observers) only, as in the original ZooKeeper measurements where the
	// leader took no clients (leaderServes=no). Clients also reconnect to
	// followers only.
	Followers = "followers"
)

// Target is one ensemble member the driver may connect to.
type Target struct {
	// Addr is the client address, host:port.
	Addr string
	// Role is RoleLeader, RoleFollower, RoleObserver, RoleStandalone or
	// empty (unknown).
	Role string
	// ID is the server id (myid), 0 if unknown.
	ID int64
}

// Reconnect modes.
const (
	// ReconnectTight reconnects as fast as the servers allow.
	ReconnectTight = "tight"
	// ReconnectLibrary is go-zookeeper's default behaviour: the member list
	// shuffled (so placement is random), a 1 s pause after each full round
	// of members it could not reach, and a 1 s dial timeout.
	ReconnectLibrary = "library"
)

// ReconnectPolicy is how clients find a server again after losing one.
type ReconnectPolicy struct {
	// Mode is ReconnectTight (the default when empty) or ReconnectLibrary.
	Mode string
	// RoundPause is, in tight mode, about how long a client waits after
	// failing to reach every member once before starting the next round
	// (default 50 ms; each client's pause is spread over 0.5-1.5 times it,
	// so that clients do not flood a recovering server in step).
	RoundPause time.Duration
	// DialTimeout bounds, in tight mode, each connection attempt
	// (default 250 ms).
	DialTimeout time.Duration
}

func (p ReconnectPolicy) withDefaults() ReconnectPolicy {
	if p.Mode == "" {
		p.Mode = ReconnectTight
	}
	if p.Mode == ReconnectTight {
		if p.RoundPause == 0 {
			p.RoundPause = 50 * time.Millisecond
		}
		if p.DialTimeout == 0 {
			p.DialTimeout = 250 * time.Millisecond
		}
	}
	return p
}

// String describes the policy for the result.
func (p ReconnectPolicy) String() string {
	p = p.withDefaults()
	if p.Mode == ReconnectLibrary {
		return "library: go-zookeeper DNSHostProvider (members shuffled), 1s pause after each full round of failed members, 1s dial timeout"
	}
	return fmt.Sprintf("tight: own zk.HostProvider (client's member first, then the others in order), %v pause (spread 0.5-1.5x over clients) after a full round of failed members, %v dial timeout", p.RoundPause, p.DialTimeout)
}

// Options configures Run.
type Options struct {
	// Spec is the workload; it is validated first.
	Spec workloads.Spec
	// Targets are the members clients connect to.
	Targets []Target
	// Placement is RoundRobin (default) or Followers.
	Placement string
	// Reconnect is the clients' reconnect policy.
	Reconnect ReconnectPolicy
	// SessionTimeout is the session timeout clients ask for (default 10 s).
	SessionTimeout time.Duration
	// ConnectTimeout bounds dialling each member before the run and
	// establishing each session (default 10 s for sessions, 30 s over
	// TLS, a tenth of it for the first dial).
	ConnectTimeout time.Duration
	// DrainTimeout bounds how long Run waits at the end for operations in
	// flight before it closes the sessions under them (default 5 s).
	DrainTimeout time.Duration
	// Root is the znode under which the key space lives (default
	// "/zkbench"). Keys are Root/k0000000..; create/delete pairs use
	// ephemeral znodes under Root/tmp.
	Root string
	// SkipSetup skips creating the key space (it must already exist).
	SkipSetup bool
	// Interval is the time-series resolution (default 100 ms).
	Interval time.Duration
	// LogInterval is the resolution of the per-interval histograms kept in
	// the result and its HDR log: a multiple of Interval (default the
	// smallest multiple of at least 1 s).
	LogInterval time.Duration
	// Ensemble describes the servers (implementation, version, launch);
	// Run fills in Members from Targets.
	Ensemble results.Ensemble
	// Revision is the git revision to record when the binary carries none.
	Revision string
	// Events, if not nil, delivers marks (faults, recoveries) that Run
	// stamps with the time it receives them and records in the result.
	Events <-chan results.Event
	// Progress receives a live progress line once a second when TTY is
	// true; when TTY is false nothing is written to it.
	Progress io.Writer
	// TTY says whether Progress is a terminal.
	TTY bool
	// Logger receives diagnostics (connection changes, warnings); nil
	// discards them.
	Logger *slog.Logger
	// TLS, if not nil, makes every client connection TLS with this
	// configuration (a server name is filled in from the member's host
	// when it has none): the servers' secure or unified client ports.
	TLS *tls.Config
	// SASL, if not nil, logs every client connection in with DIGEST-MD5
	// as this user before its session's first request (the servers'
	// JAAS Server section lists it).
	SASL *SASLLogin

	// Sessions, when its Count is positive, drives only the sessions
	// [First, First+Count) of Spec.Clients: one driver's share of a run
	// driven from several machines. Session i's operations, its open-loop
	// schedule and its member depend only on the spec and i, whichever
	// driver runs it.
	Sessions SessionRange
	// Barrier, if not nil, is called once every session is established;
	// it returns when the warm-up starts (the common start of several
	// drivers), and Run waits until then. Its error ends the run.
	Barrier func(ctx context.Context) (time.Time, error)
	// OnMeasure, if not nil, is told when the measured part will start,
	// once that is decided: at once for a fixed warm-up, when the
	// throughput steadies for an automatic one (Spec.WarmupMax). A fault
	// schedule timed from the measured part starts from it.
	OnMeasure func(start time.Time)
	// SharedWarmup, if not nil, has an automatic warm-up (Spec.WarmupMax)
	// decided outside this driver, by a coordinator that sees every
	// driver's buckets (see WarmupJudge): the way several drivers warm up
	// until steady. The result then records no Warmup; the coordinator
	// does.
	SharedWarmup *SharedWarmup
	// OnInterval, if not nil, is given the latency histogram of every
	// interval of the series (all operation types, results.IntervalDigits)
	// as it is finalised, with the interval's index; it must not keep h.
	OnInterval func(idx int64, h *hdr.Histogram)
	// Trace, if not nil, is called with every operation a session issues
	// (in closed and open loop), from many goroutines at once.
	Trace func(session int, op workloads.Op)
	// Check, when its Keys is positive, records every operation on a few
	// keys, warm-up included, and checks the history at the end: the
	// verdict is in Result.Safety. Not with Sessions: the history of a
	// run driven from several machines is not in one driver.
	Check CheckOptions

	// steady overrides the automatic warm-up's rule (tests).
	steady *steadyRule
}

// SessionRange is a contiguous range of session (client) indices.
type SessionRange struct {
	First, Count int
}

// sessions returns the range Run drives: Sessions, or every client.
func (o Options) sessions() SessionRange {
	if o.Sessions.Count > 0 {
		return o.Sessions
	}
	return SessionRange{0, o.Spec.Clients}
}

func (o Options) withDefaults() Options {
	if o.Placement == "" {
		o.Placement = RoundRobin
	}
	o.Reconnect = o.Reconnect.withDefaults()
	if o.SessionTimeout == 0 {
		o.SessionTimeout = 10 * time.Second
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 10 * time.Second
		if o.TLS != nil {
			// A cold JVM answering 60 TLS handshakes at once drops
			// many; the clients' retries brought the last session
			// after 6-10 s.
			o.ConnectTimeout = 30 * time.Second
		}
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = 5 * time.Second
	}
	if o.Root == "" {
		o.Root = "/zkbench"
	}
	if o.Interval == 0 {
		o.Interval = 100 * time.Millisecond
	}
	if o.LogInterval == 0 && o.Interval > 0 {
		// The smallest multiple of Interval of at least a second.
		n := (time.Second + o.Interval - 1) / o.Interval
		o.LogInterval = n * o.Interval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

func badOption(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidOptions, field, fmt.Sprintf(format, args...))
}

// validate checks o (after withDefaults).
func (o Options) validate() error {
	if err := o.Spec.Validate(); err != nil {
		return err
	}
	if len(o.Targets) == 0 {
		return badOption("Targets", "no ensemble members given")
	}
	seen := map[string]bool{}
	for i, t := range o.Targets {
		if _, _, err := net.SplitHostPort(t.Addr); err != nil {
			return badOption(fmt.Sprintf("Targets[%d].Addr", i), "%q: %v", t.Addr, err)
		}
		if seen[t.Addr] {
			return badOption(fmt.Sprintf("Targets[%d].Addr", i), "%s listed twice", t.Addr)
		}
		seen[t.Addr] = true
		switch t.Role {
		case "", RoleLeader, RoleFollower, RoleObserver, RoleStandalone:
		default:
			return badOption(fmt.Sprintf("Targets[%d].Role", i), "unknown role %q", t.Role)
		}
	}
	switch o.Placement {
	case RoundRobin:
	case Followers:
		if len(o.servingTargets()) == 0 {
			return badOption("Placement", "followers placement, but no target has role follower or observer")
		}
	default:
		return badOption("Placement", "unknown placement %q (want %s or %s)", o.Placement, RoundRobin, Followers)
	}
	switch o.Reconnect.Mode {
	case ReconnectTight, ReconnectLibrary:
	default:
		return badOption("Reconnect.Mode", "unknown mode %q (want %s or %s)", o.Reconnect.Mode, ReconnectTight, ReconnectLibrary)
	}
	if o.Reconnect.RoundPause < 0 || o.Reconnect.DialTimeout < 0 {
		return badOption("Reconnect", "negative duration")
	}
	if o.SessionTimeout < 0 || o.ConnectTimeout < 0 || o.DrainTimeout < 0 {
		return badOption("SessionTimeout", "negative timeout")
	}
	if r := o.Sessions; r.First < 0 || r.Count < 0 || r.Count > 0 && r.First+r.Count > o.Spec.Clients {
		return badOption("Sessions", "[%d, %d) is not within the spec's %d clients", r.First, r.First+r.Count, o.Spec.Clients)
	}
	if o.Check.Keys < 0 || o.Check.MaxOps < 0 {
		return badOption("Check", "negative count")
	}
	if o.Check.Keys > 0 && o.Sessions.Count > 0 {
		return badOption("Check", "a history check needs every session in this driver, not a range")
	}
	if o.Spec.WarmupMax > 0 && o.SharedWarmup == nil && (o.Sessions.Count > 0 || o.Barrier != nil) {
		return badOption("Spec.WarmupMax", "an automatic warm-up is decided by one driver seeing every session; with several drivers give a fixed warm-up or a SharedWarmup")
	}
	if sh := o.SharedWarmup; sh != nil && (o.Spec.WarmupMax <= 0 || sh.Publish == nil || sh.Measure == nil) {
		return badOption("SharedWarmup", "wants an automatic warm-up (Spec.WarmupMax), Publish and Measure")
	}
	if o.Interval <= 0 || o.LogInterval < o.Interval || o.LogInterval%o.Interval != 0 {
		return badOption("LogInterval", "%v must be a positive multiple of Interval %v", o.LogInterval, o.Interval)
	}
	if len(o.Root) < 2 || o.Root[0] != '/' || o.Root[len(o.Root)-1] == '/' {
		return badOption("Root", "%q is not an absolute znode path", o.Root)
	}
	return nil
}

// servingTargets returns the members clients may use.
func (o Options) servingTargets() []Target {
	if o.Placement != Followers {
		return o.Targets
	}
	var out []Target
	for _, t := range o.Targets {
		if t.Role == RoleFollower || t.Role == RoleObserver {
			out = append(out, t)
		}
	}
	return out
}
