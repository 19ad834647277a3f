package results

import (
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/zkbench/zkbench/workloads"
)

// SchemaVersion is the version of the result document this package writes.
const SchemaVersion = 1

// Histogram bounds: latencies from 1 µs to one hour, in nanoseconds.
const (
	MinLatency = int64(time.Microsecond)
	MaxLatency = int64(time.Hour)
	// TotalDigits is the precision of whole-run histograms (0.1 %).
	TotalDigits = 3
	// IntervalDigits is the precision of per-interval histograms (1 %),
	// cheaper to merge every interval.
	IntervalDigits = 2
)

// NewHistogram returns an empty latency histogram of the given precision
// (TotalDigits or IntervalDigits), in nanoseconds.
func NewHistogram(digits int) *hdr.Histogram { return hdr.New(MinLatency, MaxLatency, digits) }

// Error kinds, the keys of every Errors map. Server error codes are
// "server:" followed by the code's name (for example "server:bad_version").
const (
	// KindConnectionLoss is a request lost with its connection (the server
	// went away, or the client gave up on it).
	KindConnectionLoss = "connection_loss"
	// KindSessionExpired is a request refused because the session expired.
	KindSessionExpired = "session_expired"
	// KindTimeout is a request lost because its connection was dropped
	// when no reply came within the client's receive timeout (two thirds
	// of the session timeout): a hung, not a dead, server.
	KindTimeout = "timeout"
	// KindNoServer is a request failed because no server could be reached.
	KindNoServer = "no_server"
	// KindOther is anything else the client reported.
	KindOther = "other"
	// KindServerPrefix prefixes a ZooKeeper error code returned by a server.
	KindServerPrefix = "server:"
)

// Stop reasons.
const (
	StopDeadline  = "deadline"  // the measured duration elapsed
	StopCancelled = "cancelled" // the run was cancelled (Ctrl-C); results are partial
)

// Result is one benchmark run.
type Result struct {
	// Schema is SchemaVersion when written.
	Schema int `json:"schema"`
	// Spec is the workload, including its seed.
	Spec workloads.Spec `json:"spec"`
	// Ensemble says what was measured.
	Ensemble Ensemble `json:"ensemble"`
	// Driver says how it was driven, and what the driver itself cost.
	Driver Driver `json:"driver"`
	// Machine is where the driver ran.
	Machine Machine `json:"machine"`
	// Build identifies the zkbench binary.
	Build Build `json:"build"`
	// Start is the wall-clock start of the measured part (after warm-up).
	Start time.Time `json:"start"`
	// Measured is how long the measured part lasted; shorter than
	// Spec.Duration when the run was cancelled.
	Measured time.Duration `json:"measured_ns"`
	// Warmup is how the warm-up before Start went; nil for a fixed
	// warm-up (Spec.Warmup).
	Warmup *Warmup `json:"warmup,omitempty"`
	// Stop is StopDeadline or StopCancelled.
	Stop string `json:"stop"`
	// Interval is the length of one Series entry.
	Interval time.Duration `json:"interval_ns"`
	// Ops holds per-operation-type totals over the measured part, keyed by
	// operation name (workloads.OpType.String()).
	Ops map[string]*OpStats `json:"ops"`
	// Series is the time series, one entry per Interval from Start.
	Series []Interval `json:"series"`
	// Events are marks on the time line (injected faults, recoveries).
	Events []Event `json:"events,omitempty"`
	// Warnings are problems the reader should know of (for example a
	// saturated driver).
	Warnings []string `json:"warnings,omitempty"`
	// Servers holds what the servers themselves said: their sampled
	// figures (servers.csv), kept logs and configs, and problems.
	Servers *Servers `json:"servers,omitempty"`
	// Safety is the verdict of the history check of a run with faults or
	// with --check; nil when the run was not checked.
	Safety *Safety `json:"safety,omitempty"`

	// Latency holds the whole-run latency histogram of each operation type
	// (nanoseconds; in open loop measured from the intended start). Written
	// to latency.hlog, not to result.json.
	Latency map[string]*hdr.Histogram `json:"-"`
	// Service holds, in open loop only, the same latencies measured the
	// naive way, from when the request was actually sent; comparing it with
	// Latency shows how much coordinated omission would have hidden.
	Service map[string]*hdr.Histogram `json:"-"`
	// IntervalLatency holds histograms of all operations over consecutive
	// stretches of the measured part (a few Series intervals each, one
	// second by default, so that long runs stay small), each stamped with
	// its start and end time (StartTimeMs, EndTimeMs). Written to
	// intervals.hlog.
	IntervalLatency []*hdr.Histogram `json:"-"`
}

// Warmup is the outcome of an automatic warm-up (Spec.WarmupMax).
type Warmup struct {
	// Took is how long it lasted: from the start of the load to Start.
	Took time.Duration `json:"took_ns"`
	// Settled says whether the throughput became steady; false means the
	// warm-up ran to Spec.WarmupMax and the measured part may still hold
	// a climb (a JIT compiling, caches filling).
	Settled bool `json:"settled"`
	// CV and Drift are the last judged window's coefficient of variation
	// of throughput and the relative difference of its halves' means.
	CV    float64 `json:"cv"`
	Drift float64 `json:"drift"`
	// Rule states the steadiness rule.
	Rule string `json:"rule"`
	// Behind is, in open loop, how many scheduled operations had not yet
	// been issued when the warm-up ended: a schedule that far behind
	// starts the measured part with a backlog, and its latency with it.
	Behind int64 `json:"behind,omitempty"`
}

// Ensemble describes the servers under test.
type Ensemble struct {
	// Implementation is "go", "java" or "external".
	Implementation string `json:"implementation"`
	// Version is the implementation's version string.
	Version string `json:"version,omitempty"`
	// Size is the number of voting members.
	Size int `json:"size"`
	// Members lists the servers the driver was given.
	Members []Member `json:"members"`
	// Launch says how the servers were started (for example "children of
	// the driver's session" or "setsid"), which changes CPU shares.
	Launch string `json:"launch,omitempty"`
	// Config holds notable server settings (leaderServes, maxClientCnxns).
	Config map[string]string `json:"config,omitempty"`
	// Placement, for a mixed ensemble, is the implementation ("go" or
	// "java") each server ran when the load began, by server id; a
	// replacement during the run is an event.
	Placement map[int64]string `json:"placement,omitempty"`
}

// Member is one server of the ensemble.
type Member struct {
	ID      int64  `json:"id"`
	Addr    string `json:"addr"`
	Role    string `json:"role,omitempty"` // leader, follower, observer, standalone
	Clients int    `json:"clients"`        // clients placed on it at the start
}

// Driver records how the load was applied and what it cost.
type Driver struct {
	// Placement is how clients were spread over the members.
	Placement string `json:"placement"`
	// Reconnect describes the client reconnect policy.
	Reconnect string `json:"reconnect"`
	// SessionTimeout is the session timeout the clients asked for.
	SessionTimeout time.Duration `json:"session_timeout_ns"`
	// Client names the ZooKeeper client library and version.
	Client string `json:"client"`
	// GOMAXPROCS is the driver's parallelism.
	GOMAXPROCS int `json:"gomaxprocs"`
	// CPUSeconds is the driver's user+system CPU time over the measured part.
	CPUSeconds float64 `json:"cpu_seconds"`
	// CPUPer10kOps is CPUSeconds per 10,000 completed operations.
	CPUPer10kOps float64 `json:"cpu_per_10k_ops"`
	// CPUCores is the average number of cores the driver used.
	CPUCores float64 `json:"cpu_cores"`
	// SchedP99 is the 99th percentile of how long the driver's goroutines
	// waited for a CPU while runnable (Go runtime scheduling latency) over
	// the measured part: large next to the operations' latency, the driver
	// was starved and set the pace.
	SchedP99 time.Duration `json:"sched_p99_ns"`
	// Unfinished counts, in open loop, the operations scheduled in the
	// measured part that had not completed when the run ended: the schedule fell
	// behind (a stalled server, or a saturated driver). Their latency is at
	// least the time from their intended start to the end of the run, and
	// it is missing from the histograms.
	Unfinished int64 `json:"unfinished,omitempty"`
	// Reconnects counts sessions re-established after a lost connection.
	Reconnects int64 `json:"reconnects"`
	// Expirations counts sessions the servers expired.
	Expirations int64 `json:"expirations"`
	// MachineBusy is the fraction (0..1) of the whole machine's CPU that
	// was busy over the measured part, or -1 if unknown.
	MachineBusy float64 `json:"machine_busy"`
}

// Machine describes the host the driver ran on.
type Machine struct {
	Hostname string `json:"hostname,omitempty"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	Cores    int    `json:"cores"`
	Memory   int64  `json:"memory_bytes"`
	Kernel   string `json:"kernel,omitempty"`
	CPUModel string `json:"cpu_model,omitempty"`
}

// Build identifies the program that produced the result.
type Build struct {
	GoVersion string `json:"go_version"`
	// Version is the zkbench version (internal/version's Info.String):
	// the module version, or the revision and "+dirty", or "devel".
	Version string `json:"version,omitempty"`
	// Revision is the VCS commit the binary was built from, and
	// RevisionSource how that is known ("vcs", "ldflags", "source tree",
	// or "given" for one the caller supplied); both empty when unknown.
	Revision       string `json:"revision,omitempty"`
	RevisionSource string `json:"revision_source,omitempty"`
	Modified       bool   `json:"modified,omitempty"`
	Module         string `json:"module,omitempty"`
}

// OpStats are the totals of one operation type.
type OpStats struct {
	// Count is the number of operations that completed successfully
	// inside the measured part, whenever they started (an open loop behind
	// its schedule answers operations scheduled before it): the
	// throughput's numerator.
	Count int64 `json:"count"`
	// Errors counts the operations that failed inside the measured part,
	// by kind.
	Errors map[string]int64 `json:"errors,omitempty"`
	// Latency summarises the latencies of the successful operations that
	// started (open loop: were scheduled) inside the measured part,
	// whenever they completed; Latency.Count may differ from Count.
	Latency Latency `json:"latency"`
	// Service, in open loop, summarises the uncorrected latencies.
	Service *Latency `json:"service,omitempty"`
}

// Latency is a summary of a latency histogram.
type Latency struct {
	Count int64         `json:"count"`
	Mean  time.Duration `json:"mean_ns"`
	Min   time.Duration `json:"min_ns"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	P999  time.Duration `json:"p999_ns"`
	Max   time.Duration `json:"max_ns"`
}

// LatencyOf returns the summary of a latency histogram in nanoseconds.
func LatencyOf(h *hdr.Histogram) Latency {
	if h == nil || h.TotalCount() == 0 {
		return Latency{}
	}
	q := h.ValueAtPercentilesSlice([]float64{50, 90, 99, 99.9})
	return Latency{
		Count: h.TotalCount(),
		Mean:  time.Duration(h.Mean()),
		Min:   time.Duration(h.Min()),
		P50:   time.Duration(q[0]),
		P90:   time.Duration(q[1]),
		P99:   time.Duration(q[2]),
		P999:  time.Duration(q[3]),
		Max:   time.Duration(h.Max()),
	}
}

// Interval is one point of the time series.
type Interval struct {
	// Start is the offset of the interval from Result.Start.
	Start time.Duration `json:"t_ns"`
	// Len is the interval's length (Result.Interval, except perhaps the
	// last one of a cancelled run).
	Len time.Duration `json:"len_ns"`
	// Ops is the number of operations that completed successfully in it.
	Ops int64 `json:"ops"`
	// ByOp breaks Ops down by operation name.
	ByOp map[string]int64 `json:"by_op,omitempty"`
	// Errors is the number that failed in it.
	Errors int64 `json:"errors"`
	// ErrorsByKind breaks Errors down by kind.
	ErrorsByKind map[string]int64 `json:"errors_by_kind,omitempty"`
	// Latency percentiles of the operations that completed in it (from
	// their intended start, also for those scheduled before the measured
	// part).
	P50  time.Duration `json:"p50_ns"`
	P99  time.Duration `json:"p99_ns"`
	P999 time.Duration `json:"p999_ns"`
	Max  time.Duration `json:"max_ns"`
	// DriverCPU is the number of cores the driver used during it.
	DriverCPU float64 `json:"driver_cpu"`
}

// Throughput returns the interval's successful operations per second.
func (iv Interval) Throughput() float64 {
	if iv.Len <= 0 {
		return 0
	}
	return float64(iv.Ops) / iv.Len.Seconds()
}

// Event is a mark on the time line.
type Event struct {
	// At is the offset from Result.Start (negative during warm-up).
	At time.Duration `json:"at_ns"`
	// Name is short and machine-readable ("kill", "restart", "election").
	Name string `json:"name"`
	// Detail is free text ("server 3 (leader)").
	Detail string `json:"detail,omitempty"`
}

// The event names a fault schedule writes: failures it injects and the
// repairs that undo them. harness.Faults is the list they come from; a
// test holds the two to each other.
var (
	failureEvents = map[string]bool{"kill": true, "freeze": true, "partition": true, "partition-in": true,
		"partition-out": true, "delay": true, "disk-full": true, "fsync-slow": true, "fsync-fail": true, "power-loss": true,
		"replace-go": true, "replace-java": true, "crash-replace-go": true, "crash-replace-java": true}
	repairEvents = map[string]bool{"restart": true, "thaw": true, "heal": true, "disk-heal": true}
)

// IsFailure reports whether ev marks an injected failure (a kill, freeze,
// partition, delay or disk fault), or the replacement of a server's
// process by another implementation's (after a clean stop or a kill -9),
// which stops it.
func (ev Event) IsFailure() bool { return failureEvents[ev.Name] }

// IsRepair reports whether ev marks the repair of a failure (restart,
// thaw, heal, disk-heal).
func (ev Event) IsRepair() bool { return repairEvents[ev.Name] }
