package perf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/zkbench/zkbench/bench"
	"github.com/zkbench/zkbench/experiment"
	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/workloads"
)

// ImplNoop names the no-op responders in samples and reports.
const ImplNoop = "noop"

// ErrInvalid wraps every problem with a Config found before anything starts.
var ErrInvalid = errors.New("perf: invalid configuration")

// Config is one comparison. The zero value of every field but GoCommand
// (and NoopCommand when the no-op bound is wanted) has a usable default.
type Config struct {
	// Sizes are the ensemble sizes (default 1, 3, 7).
	Sizes []int
	// ReadPercents are the read percentages (default 0, 70, 100).
	ReadPercents []float64
	// Reps is how many times every point is measured (default 3).
	Reps int
	// Impls are the implementations measured, in the order of the first
	// repetition: harness.ImplGo, harness.ImplJava, ImplNoop (default all
	// three). Go and Java swap places in every other repetition.
	Impls []string
	// Clients, Outstanding, ValueSize and Keys shape the load (defaults
	// 60 clients, 100 outstanding requests each, 1 KiB values, 1,000 keys).
	Clients, Outstanding, ValueSize, Keys int
	// Warmup and Duration are the unmeasured and measured parts of every
	// run (defaults 1 s and 5 s).
	Warmup, Duration time.Duration
	// WarmupMax, when positive, makes every run's warm-up automatic
	// (workloads.Spec.WarmupMax): at least Warmup, until the throughput is
	// steady, at most WarmupMax.
	WarmupMax time.Duration
	// Rates, if any, add the fixed-rate latency points: after the
	// closed-loop runs, every implementation runs open loop at each rate
	// at every point, in the same repetitions and order.
	Rates []Rate
	// GoCommand starts a Go server (harness.Options.GoCommand).
	GoCommand []string
	// GoShared says that GoCommand runs the Go server from the driver's
	// own executable (zkbench's embedded server): its resident set then
	// counts the pages of that executable it maps, which the driver
	// loaded and shares, so the report does not judge Go's memory target
	// on it.
	GoShared bool
	// GoVariants are other builds of the Go server, by implementation name
	// (e.g. "go-before": the build before an optimisation), measured like
	// "go" when Impls lists them, for before/after ratios from one run.
	GoVariants map[string][]string
	// ServerCPUs is harness.Options.ServerCPUs for the Go and Java servers:
	// zero gives each an equal share of the machine with the driver,
	// negative every CPU. The no-op responders always get every CPU.
	ServerCPUs int
	// NoopCommand starts one no-op responder; "--addr host:port
	// --value-size N" is appended (e.g. {"/tmp/x/zknoop"}, or zkbench's
	// hidden internal-zknoop command).
	NoopCommand []string
	// Seed seeds every workload (default 1).
	Seed int64
	// Log receives one line per run; nil discards them.
	Log io.Writer
	// Logger receives diagnostics from the harness and the driver.
	Logger *slog.Logger
}

// Validate reports the first problem with c, wrapping ErrInvalid, as
// Compare would before it starts anything.
func (c Config) Validate() error { return c.withDefaults() }

func (c *Config) withDefaults() error {
	if len(c.Sizes) == 0 {
		c.Sizes = []int{1, 3, 7}
	}
	if len(c.ReadPercents) == 0 {
		c.ReadPercents = []float64{0, 70, 100}
	}
	if c.Reps == 0 {
		c.Reps = 3
	}
	if len(c.Impls) == 0 {
		c.Impls = []string{harness.ImplGo, harness.ImplJava, ImplNoop}
	}
	if c.Clients == 0 {
		c.Clients = 60
	}
	if c.Outstanding == 0 {
		c.Outstanding = workloads.DefaultOutstanding
	}
	if c.ValueSize == 0 {
		c.ValueSize = workloads.DefaultValueSize
	}
	if c.Keys == 0 {
		c.Keys = 1000
	}
	if c.Warmup == 0 && c.WarmupMax == 0 {
		c.Warmup = time.Second
	}
	if c.Duration == 0 {
		c.Duration = 5 * time.Second
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Reps < 1 {
		return fmt.Errorf("%w: %d repetitions", ErrInvalid, c.Reps)
	}
	for _, n := range c.Sizes {
		if n < 1 {
			return fmt.Errorf("%w: ensemble size %d", ErrInvalid, n)
		}
	}
	for _, impl := range c.Impls {
		switch impl {
		case harness.ImplGo:
			if len(c.GoCommand) == 0 {
				return fmt.Errorf("%w: the go implementation needs GoCommand", ErrInvalid)
			}
		case harness.ImplJava:
		case ImplNoop:
			if len(c.NoopCommand) == 0 {
				return fmt.Errorf("%w: the no-op bound needs NoopCommand", ErrInvalid)
			}
		default:
			if len(c.GoVariants[impl]) == 0 {
				return fmt.Errorf("%w: unknown implementation %q (not go, java, noop or a GoVariants key)", ErrInvalid, impl)
			}
		}
	}
	if _, err := c.spec(c.ReadPercents[0], 0); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return validRates(c.Rates, c.Impls)
}

// spec is the workload of one point: closed loop, or open loop at rate
// operations per second when rate is positive.
func (c *Config) spec(reads, rate float64) (workloads.Spec, error) {
	s := workloads.Default()
	s.Name = fmt.Sprintf("perf-%gr", reads)
	s.ReadPercent = reads
	s.Clients, s.Outstanding, s.ValueSize, s.Keys = c.Clients, c.Outstanding, c.ValueSize, c.Keys
	s.Warmup, s.WarmupMax, s.Duration, s.Seed = c.Warmup, c.WarmupMax, c.Duration, c.Seed
	if rate > 0 {
		s.Name = fmt.Sprintf("perf-%gr-%.0fops", reads, rate)
		s.Mode, s.Rate = workloads.Open, rate
	}
	return s, s.Validate()
}

// Sample is one measured run.
type Sample struct {
	Impl        string  `json:"impl"`
	Size        int     `json:"size"`
	ReadPercent float64 `json:"read_percent"`
	Rep         int     `json:"rep"`
	// Throughput is the mean of the run's per-interval throughputs (ops/s).
	Throughput float64       `json:"throughput"`
	P50        time.Duration `json:"p50_ns"`
	P99        time.Duration `json:"p99_ns"`
	P999       time.Duration `json:"p999_ns"`
	// Rate is the offered open-loop rate (ops/s) of a fixed-rate latency
	// run, RateLabel the rate as given ("50%"); 0 and "" in closed loop.
	Rate      float64 `json:"rate,omitempty"`
	RateLabel string  `json:"rate_label,omitempty"`
	// Warmup is how an automatic warm-up went; nil for a fixed one.
	Warmup *results.Warmup `json:"warmup,omitempty"`
	// Prewarm, for a fixed-rate run, is how the closed-loop load its
	// ensemble ran first went (its warm-up): the fixed rates are offered
	// to warm servers, not to a JIT still compiling.
	Prewarm *results.Warmup `json:"prewarm,omitempty"`
	// Ops and Errors count the operations that completed inside the
	// measured part (results.Summary).
	Ops    int64 `json:"ops"`
	Errors int64 `json:"errors"`
	// Unfinished, in open loop, counts the operations scheduled in the
	// measured part not completed when the run ended.
	Unfinished int64 `json:"unfinished,omitempty"`
	// DriverCores is the average number of cores the driver used.
	DriverCores float64 `json:"driver_cores"`
	// Load1 is the machine's one-minute load average when the run ended.
	Load1 float64 `json:"load1"`
	// ServerUsPerOp is the CPU time (µs) the server processes, summed,
	// spent per completed operation over the measured part: /proc CPU
	// sampled every 100 ms, interpolated at its start and end. 0 when it
	// could not be measured.
	ServerUsPerOp float64 `json:"server_us_per_op,omitempty"`
	// DriverUsPerOp is the driver process's CPU time (µs, getrusage over
	// the measured part) per completed operation.
	DriverUsPerOp float64 `json:"driver_us_per_op,omitempty"`
}

// BusyCores is how many of the machine's cores the run kept busy in its
// servers and its driver together: throughput times both CPU figures per
// operation. Near the machine's cores, the machine bounds the run rather
// than any one process. 0 when either figure was not measured.
func (s Sample) BusyCores() float64 {
	if s.ServerUsPerOp <= 0 || s.DriverUsPerOp <= 0 {
		return 0
	}
	return s.Throughput * (s.ServerUsPerOp + s.DriverUsPerOp) / 1e6
}

// Memory is the resident memory of one ensemble's servers in one
// repetition (KiB, one entry per server).
type Memory struct {
	Impl string `json:"impl"`
	Size int    `json:"size"`
	Rep  int    `json:"rep"`
	// IdleKiB is VmRSS after the ensemble serves, before any load.
	IdleKiB []int64 `json:"idle_kib"`
	// PeakKiB is VmHWM after every load of the repetition ran.
	PeakKiB []int64 `json:"peak_kib"`
}

// Startup is how long one ensemble took from launch until every member
// served (a test write included).
type Startup struct {
	Impl    string        `json:"impl"`
	Size    int           `json:"size"`
	Rep     int           `json:"rep"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// Report is a finished comparison.
type Report struct {
	Started  time.Time            `json:"started"`
	Elapsed  time.Duration        `json:"elapsed_ns"`
	Config   ReportConfig         `json:"config"`
	Samples  []Sample             `json:"samples"`
	Memory   []Memory             `json:"memory"`
	Startups []Startup            `json:"startups"`
	Launch   []harness.LaunchInfo `json:"launch"`
	Machine  results.Machine      `json:"machine"`
	Build    results.Build        `json:"build"`
	// Profiles are the profile summaries added by Profile, if any.
	Profiles []ProfileSummary `json:"profiles,omitempty"`
}

// ReportConfig is the part of Config a report records.
type ReportConfig struct {
	Sizes        []int               `json:"sizes"`
	ReadPercents []float64           `json:"read_percents"`
	Reps         int                 `json:"reps"`
	Impls        []string            `json:"impls"`
	Clients      int                 `json:"clients"`
	Outstanding  int                 `json:"outstanding"`
	ValueSize    int                 `json:"value_size"`
	Keys         int                 `json:"keys"`
	Warmup       time.Duration       `json:"warmup_ns"`
	WarmupMax    time.Duration       `json:"warmup_max_ns,omitempty"`
	Duration     time.Duration       `json:"duration_ns"`
	Rates        []Rate              `json:"rates,omitempty"`
	GoCommand    []string            `json:"go_command"`
	GoShared     bool                `json:"go_shared,omitempty"`
	NoopCommand  []string            `json:"noop_command"`
	GoVariants   map[string][]string `json:"go_variants,omitempty"`
}

// Compare runs the comparison c describes and returns its report. A
// cancelled ctx stops it after the run in progress; the report then holds
// what was measured and the error says why it is short.
func Compare(ctx context.Context, c Config) (*Report, error) {
	if err := c.withDefaults(); err != nil {
		return nil, err
	}
	rep := &Report{
		Started: time.Now(),
		Config: ReportConfig{
			Sizes: c.Sizes, ReadPercents: c.ReadPercents, Reps: c.Reps, Impls: c.Impls,
			Clients: c.Clients, Outstanding: c.Outstanding, ValueSize: c.ValueSize, Keys: c.Keys,
			Warmup: c.Warmup, WarmupMax: c.WarmupMax, Duration: c.Duration, Rates: c.Rates, GoCommand: c.GoCommand, GoShared: c.GoShared, NoopCommand: c.NoopCommand, GoVariants: c.GoVariants,
		},
	}
	defer func() { rep.Elapsed = time.Since(rep.Started) }()
	launched := map[string]bool{}
	closed := func(int) ([]load, error) {
		var out []load
		for _, reads := range c.ReadPercents {
			out = append(out, load{reads: reads})
		}
		return out, nil
	}
	// The fixed-rate runs come second: a share of Java's saturation needs
	// Java's closed-loop runs of every repetition first.
	open := func(size int) ([]load, error) {
		var out []load
		for _, reads := range c.ReadPercents {
			for _, rt := range c.Rates {
				v, err := rep.offered(rt, size, reads)
				if err != nil {
					return nil, err
				}
				out = append(out, load{reads: reads, rate: v, label: rt.String()})
			}
		}
		return out, nil
	}
	phases := []func(int) ([]load, error){closed}
	if len(c.Rates) > 0 {
		phases = append(phases, open)
	}
	for _, loads := range phases {
		for r := 0; r < c.Reps; r++ {
			order := append([]string(nil), c.Impls...)
			if r%2 == 1 {
				swapGoJava(order)
			}
			for _, size := range c.Sizes {
				ls, err := loads(size)
				if err != nil {
					return rep, err
				}
				for _, impl := range order {
					if err := ctx.Err(); err != nil {
						return rep, fmt.Errorf("perf: cancelled: %w", err)
					}
					if err := c.runEnsemble(ctx, rep, impl, size, r, launched, ls); err != nil {
						return rep, err
					}
				}
			}
		}
	}
	return rep, nil
}

// load is one run on an ensemble: closed loop, or open loop at rate
// operations per second (label is the rate as given).
type load struct {
	reads, rate float64
	label       string
}

// swapGoJava reverses the order of every implementation but the no-op
// bound (which keeps its place), so that no build always runs first.
func swapGoJava(order []string) {
	var idx []int
	for i, s := range order {
		if s != ImplNoop {
			idx = append(idx, i)
		}
	}
	for i, j := 0, len(idx)-1; i < j; i, j = i+1, j-1 {
		order[idx[i]], order[idx[j]] = order[idx[j]], order[idx[i]]
	}
}

// runEnsemble starts one ensemble and runs every load on it; the
// ensemble's start-up and memory are recorded with the closed-loop loads
// only, once per repetition.
func (c *Config) runEnsemble(ctx context.Context, rep *Report, impl string, size, r int, launched map[string]bool, loads []load) error {
	first := len(loads) == 0 || loads[0].rate == 0
	ho := harness.Options{Impl: impl, Servers: size, GoCommand: c.GoCommand, ServerCPUs: c.ServerCPUs, Logger: c.Logger}
	if cmd, ok := c.GoVariants[impl]; ok {
		ho.Impl, ho.GoCommand = harness.ImplGo, cmd
	}
	serving := size
	if size > 1 {
		serving = size - 1 // leaderServes=no: clients use the followers
	}
	var noopPIDs []int
	if impl == ImplNoop {
		addrs, pids, stop, err := startNoops(ctx, c.NoopCommand, serving, c.ValueSize)
		if err != nil {
			return err
		}
		defer stop()
		noopPIDs = pids
		ho = harness.Options{Impl: harness.ImplExternal, Connect: strings.Join(addrs, ","), SkipWriteCheck: true, Logger: c.Logger, MntrInterval: -1}
	}
	t0 := time.Now()
	ens, closeEns, err := experiment.StartEnsemble(ctx, ho)
	if err != nil {
		return fmt.Errorf("perf: %s, %d servers, rep %d: %w", impl, size, r+1, err)
	}
	defer closeEns()
	serverCPU := func() (float64, error) { return harnessCPU(ens), nil }
	if impl == ImplNoop {
		serverCPU = func() (float64, error) { return pidsCPU(noopPIDs) }
	}
	elapsed := time.Since(t0)
	if impl != ImplNoop && first {
		rep.Startups = append(rep.Startups, Startup{Impl: impl, Size: size, Rep: r + 1, Elapsed: elapsed})
		if !launched[impl] {
			launched[impl] = true
			li := ens.Launch()
			li.Impl = impl
			rep.Launch = append(rep.Launch, li)
		}
	}
	fmt.Fprintf(c.Log, "perf: rep %d: %s x%d serving after %v\n", r+1, impl, size, elapsed.Round(time.Millisecond))
	var mem Memory
	if impl != ImplNoop && first {
		time.Sleep(500 * time.Millisecond) // let start-up garbage go
		mem = Memory{Impl: impl, Size: size, Rep: r + 1}
		for _, st := range ens.Stats() {
			var kib int64
			if len(st.PIDs) > 0 {
				kib, _ = rssKiB(st.PIDs[len(st.PIDs)-1])
			}
			mem.IdleKiB = append(mem.IdleKiB, kib)
		}
	}
	var prewarm *results.Warmup
	if !first {
		// A fixed rate offered to a fresh Java ensemble builds a backlog
		// while the JIT compiles (3 servers at 5.1k ops/s: 3.8 s behind
		// after 10 s, caught up only after 28 s), and the measured part
		// carried it: run the closed loop until steady first, as the
		// closed-loop points did.
		pw, err := c.prewarm(ctx, ens, ho, impl, loads[0].reads)
		if err != nil {
			return fmt.Errorf("perf: %s, %d servers, rep %d: closed-loop warm-up before the fixed rates: %w", impl, size, r+1, err)
		}
		prewarm = pw
		fmt.Fprintf(c.Log, "perf: rep %d: %s x%d warmed by the closed loop before the fixed rates%s\n", r+1, impl, size, warmupNote(pw))
	}
	for _, ld := range loads {
		reads := ld.reads
		spec, err := c.spec(reads, ld.rate)
		if err != nil {
			return err
		}
		ec := experiment.Config{Spec: spec, Harness: ho, Logger: c.Logger}
		if impl == ImplNoop {
			ec.Placement = bench.RoundRobin
		}
		sampler := startCPUSampler(serverCPU, 100*time.Millisecond)
		res, err := experiment.Load(ctx, ens, ec)
		cpuSamples, cpuErr := sampler.Stop()
		if err != nil {
			return fmt.Errorf("perf: %s, %d servers, %g%% reads, rep %d: %w", impl, size, reads, r+1, err)
		}
		if rep.Machine.Cores == 0 {
			rep.Machine, rep.Build = res.Machine, res.Build
		}
		sum := results.Summarize(res)
		s := Sample{
			Impl: impl, Size: size, ReadPercent: reads, Rep: r + 1,
			Throughput: sum.Throughput.Mean, P50: sum.All.P50, P99: sum.All.P99, P999: sum.All.P999,
			Rate: ld.rate, RateLabel: ld.label, Warmup: res.Warmup, Prewarm: prewarm,
			Ops: sum.Ops, Errors: sum.Errors, Unfinished: res.Driver.Unfinished, DriverCores: res.Driver.CPUCores, Load1: load1(),
			DriverUsPerOp: usPerOp(res.Driver.CPUSeconds, sum.Ops+sum.Errors),
		}
		if cpuErr == nil {
			var sec float64
			sec, cpuErr = cpuBetween(cpuSamples, res.Start, res.Start.Add(res.Measured))
			s.ServerUsPerOp = usPerOp(sec, sum.Ops+sum.Errors)
		}
		if cpuErr != nil {
			fmt.Fprintf(c.Log, "perf: rep %d: %s x%d %g%% reads: server CPU per operation not measured: %v\n", r+1, impl, size, reads, cpuErr)
		}
		rep.Samples = append(rep.Samples, s)
		at := ""
		if ld.rate > 0 {
			at = fmt.Sprintf(" at %s (%.0f ops/s)", ld.label, ld.rate)
		}
		if ld.rate > 0 {
			at += fmt.Sprintf(", %d unfinished", s.Unfinished)
		}
		fmt.Fprintf(c.Log, "perf: rep %d: %-4s x%d %3g%% reads%s: %8.0f ops/s  p50 %v  p99 %v  p99.9 %v  errors %d  load %.1f  cpu/op server %.1fµs driver %.1fµs%s\n",
			r+1, impl, size, reads, at, s.Throughput, s.P50.Round(10*time.Microsecond), s.P99.Round(10*time.Microsecond), s.P999.Round(10*time.Microsecond),
			s.Errors, s.Load1, s.ServerUsPerOp, s.DriverUsPerOp, warmupNote(res.Warmup))
	}
	if impl != ImplNoop && first {
		for _, st := range ens.Stats() {
			mem.PeakKiB = append(mem.PeakKiB, st.PeakRSSKiB)
		}
		rep.Memory = append(rep.Memory, mem)
	}
	return nil
}

// prewarm runs impl's closed-loop load at reads on ens, warmed up as the
// closed-loop points are, with a measured part of one second that is
// thrown away, and returns how its warm-up went (nil for a fixed one).
func (c *Config) prewarm(ctx context.Context, ens *harness.Ensemble, ho harness.Options, impl string, reads float64) (*results.Warmup, error) {
	spec, err := c.spec(reads, 0)
	if err != nil {
		return nil, err
	}
	spec.Name += "-prewarm"
	spec.Duration = time.Second
	ec := experiment.Config{Spec: spec, Harness: ho, Logger: c.Logger}
	if impl == ImplNoop {
		ec.Placement = bench.RoundRobin
	}
	res, err := experiment.Load(ctx, ens, ec)
	if err != nil {
		return nil, err
	}
	if res.Warmup == nil {
		return &results.Warmup{Took: spec.Warmup, Settled: true, Rule: "fixed"}, nil
	}
	return res.Warmup, nil
}

// harnessCPU is the CPU seconds of every process of the ensemble's servers.
func harnessCPU(ens *harness.Ensemble) float64 {
	var sec float64
	for _, st := range ens.Stats() {
		sec += st.CPUSeconds
	}
	return sec
}

// pidsCPU is the CPU seconds of the running processes pids, summed.
func pidsCPU(pids []int) (float64, error) {
	var sec float64
	for _, pid := range pids {
		v, err := harness.ProcessCPUSeconds(pid)
		if err != nil {
			return 0, err
		}
		sec += v
	}
	return sec, nil
}

// rssKiB returns the resident set of process pid (VmRSS).
func rssKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("perf: rss of %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("perf: rss of %d: no VmRSS line", pid)
}

// load1 returns the one-minute load average, or 0 if unknown.
func load1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
