package main

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/zkbench/zkbench/bench"
	"github.com/zkbench/zkbench/experiment"
	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/workloads"
)

// percent is a flag holding a share in 0..100, written "30%" or "30".
type percent struct {
	v   float64
	set bool
}

func (p *percent) String() string {
	if !p.set {
		return ""
	}
	return strconv.FormatFloat(p.v, 'f', -1, 64) + "%"
}

func (p *percent) Set(s string) error {
	v, err := parsePercent(s)
	if err != nil {
		return err
	}
	p.v, p.set = v, true
	return nil
}

func (p *percent) Type() string { return "percent" }

func parsePercent(s string) (float64, error) {
	t := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%"))
	v, err := strconv.ParseFloat(t, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a percentage: want a number from 0 to 100, e.g. 30%% or 30", s)
	}
	if v < 0 || v > 100 {
		return 0, fmt.Errorf("%s is out of range: want a percentage from 0 to 100, e.g. 30%% or 30", s)
	}
	return v, nil
}

// parsePercents reads a comma-separated list of percentages.
func parsePercents(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		v, err := parsePercent(f)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty list: want percentages such as 0,50,100")
	}
	return out, nil
}

// ensembleOptions say which ensemble to run against.
type ensembleOptions struct {
	impl         string
	placement    string
	servers      int
	connect      string
	logDir       string
	leaderServes bool
	javaHeap     string
	serverCPUs   int
	tickTime     int
	peerDelay    time.Duration
	peerProxy    bool
	clientDelay  time.Duration
	clientProxy  bool
	diskFaults   bool
	tls          bool
	sasl         bool
}

func (o *ensembleOptions) addFlags(fs *pflag.FlagSet, servers int) {
	fs.StringVar(&o.impl, "impl", harness.ImplGo, "implementation: go (the embedded Go server), java (upstream QuorumPeerMain), mixed (both in one ensemble, --placement) or external (--connect)")
	fs.StringVar(&o.placement, "placement", "", "with --impl mixed: how many servers run each implementation, ids in the order listed, e.g. go=2,java=1 (servers 1 and 2 Go, 3 Java; a fresh ensemble elects the highest id)")
	fs.IntVar(&o.servers, "servers", servers, "number of voting servers in the ensemble (1 runs standalone)")
	fs.StringVar(&o.connect, "connect", "", "connection string of a running ensemble, host:port,... (with --impl external)")
	fs.StringVar(&o.logDir, "log-dir", "", "put each server's transaction log under this directory (another disk), as server-N")
	fs.BoolVar(&o.leaderServes, "leader-serves", false, "let the leader accept clients (the paper's setup had leaderServes=no)")
	fs.StringVar(&o.javaHeap, "java-heap", "256m", "maximum heap of each Java server (-Xmx)")
	fs.IntVar(&o.serverCPUs, "server-cpus", 0, "CPUs each launched server may use (GOMAXPROCS for Go, -XX:ActiveProcessorCount for Java); 0 = an equal share of this machine with the driver, -1 = every CPU")
	fs.IntVar(&o.tickTime, "tick-time", 2000, "tickTime in milliseconds")
	fs.DurationVar(&o.peerDelay, "peer-delay", 0, "add this latency to the leader's peer traffic both ways (each quorum round trip gains twice it); implies --peer-proxy")
	fs.BoolVar(&o.peerProxy, "peer-proxy", false, "route peer traffic through the harness's fault proxies (needed for partitions and delays)")
	fs.DurationVar(&o.clientDelay, "client-delay", 0, "hold every client request this long in a proxy before the server sees it (an injected slowdown); implies --client-proxy")
	fs.BoolVar(&o.clientProxy, "client-proxy", false, "route client connections through a loopback proxy (for a baseline of a --client-delay run)")
	fs.BoolVar(&o.tls, "tls", false, "TLS as production runs it: the harness makes a CA and certificates for the run; the servers, Go and Java alike, take TLS clients on their client ports (client.portUnification, x509 client certificates) and, in an ensemble, talk TLS to each other (sslQuorum); the driver's clients connect over TLS; the result records it (compare --impl go,go+tls runs both)")
	fs.BoolVar(&o.sasl, "sasl", false, "SASL as production runs it: the harness writes a JAAS file for the run (DIGEST-MD5 users and logins); the servers, Go and Java alike, read it (-Djava.security.auth.login.config) and, in an ensemble, authenticate each other (quorum.auth.enableSasl, required both ways); every driver session logs in; the result records it (compare --impl go,go+sasl runs both)")
	fs.BoolVar(&o.diskFaults, "disk-faults", false, "put each server's data directories on a fault-injecting FUSE mount, for the disk faults (disk-full, disk-heal, fsync-slow, fsync-fail, power-loss; a schedule naming one implies it); needs root and /dev/fuse")
}

func (o ensembleOptions) validate() (err error) {
	defer func() { err = usageError(err) }()
	if o.placement != "" && o.impl != harness.ImplMixed {
		return fmt.Errorf("--placement is for --impl mixed, not %s", o.impl)
	}
	switch o.impl {
	case harness.ImplMixed:
		if _, err := harness.ParsePlacement(o.placement, o.servers); err != nil {
			return fmt.Errorf("--impl mixed --placement %q: %w", o.placement, err)
		}
		if o.connect != "" {
			return fmt.Errorf("--connect is for --impl external, not %s", o.impl)
		}
	case harness.ImplGo, harness.ImplJava:
		if o.servers < 1 {
			return fmt.Errorf("--servers %d: want at least 1 (1 runs standalone; 3, 5, 7 ... form a quorum)", o.servers)
		}
		if o.connect != "" {
			return fmt.Errorf("--connect is for --impl external, not %s", o.impl)
		}
	case harness.ImplExternal:
		if o.connect == "" {
			return fmt.Errorf("--impl external needs --connect host:port,host:port,...")
		}
	default:
		return fmt.Errorf("--impl %q: want go, java, mixed or external", o.impl)
	}
	if o.peerDelay < 0 {
		return fmt.Errorf("--peer-delay %v: want a positive latency", o.peerDelay)
	}
	if o.clientDelay < 0 {
		return fmt.Errorf("--client-delay %v: want a positive latency", o.clientDelay)
	}
	if o.tls && o.impl == harness.ImplExternal {
		return fmt.Errorf("--tls needs servers the harness starts (--impl go or java), not an external ensemble")
	}
	if o.sasl && o.impl == harness.ImplExternal {
		return fmt.Errorf("--sasl needs servers the harness starts (--impl go or java), not an external ensemble")
	}
	if o.diskFaults && o.impl == harness.ImplExternal {
		return fmt.Errorf("--disk-faults needs servers the harness starts (--impl go or java), not an external ensemble")
	}
	return nil
}

// harness returns the harness options for these flags.
func (o ensembleOptions) harness(seed int64, log *slog.Logger) (harness.Options, error) {
	if err := o.validate(); err != nil {
		return harness.Options{}, err
	}
	h := harness.Options{
		Impl:         o.impl,
		Placement:    o.placement,
		Servers:      o.servers,
		Connect:      o.connect,
		LogDir:       o.logDir,
		LeaderServes: o.leaderServes,
		JavaHeap:     o.javaHeap,
		ServerCPUs:   o.serverCPUs,
		TickTime:     o.tickTime,
		PeerProxy:    o.peerProxy || o.peerDelay > 0,
		DiskFaults:   o.diskFaults,
		ExtraConfig:  map[string]string{"4lw.commands.whitelist": "*"},
		Seed:         seed,
		Logger:       log,
	}
	if o.impl == harness.ImplExternal {
		h.Servers = len(strings.Split(o.connect, ","))
	}
	if o.impl == harness.ImplGo || o.impl == harness.ImplMixed {
		var err error
		if h.GoCommand, err = selfCommand(internalServer, "start-foreground"); err != nil {
			return h, err
		}
	}
	return h, nil
}

// loadOptions say what load to apply.
type loadOptions struct {
	writes, reads percent
	specFile      string
	clients       int
	outstanding   int
	valueSize     int
	keys          int
	duration      time.Duration
	warmup        warmupFlag
	warmupMax     time.Duration
	rate          float64
	seed          int64
}

// loadDefaults are a command's defaults for its load flags.
type loadDefaults struct {
	writes   float64
	clients  int
	duration time.Duration
	warmup   time.Duration
	// autoWarmup makes --warmup auto the default.
	autoWarmup bool
}

func (o *loadOptions) addFlags(fs *pflag.FlagSet, d loadDefaults, withMix bool) {
	if withMix {
		fs.Var(&o.writes, "writes", fmt.Sprintf("share of writes (setData), e.g. 30%% or 30 (default %g%%)", d.writes))
		fs.Var(&o.reads, "reads", "share of reads (getData), e.g. 70%; the rest are writes")
		o.writes.v = d.writes
	}
	fs.StringVar(&o.specFile, "spec", "", "workload spec file (YAML or JSON); flags given explicitly override it")
	fs.IntVar(&o.clients, "clients", d.clients, "simulated clients, each with its own session")
	fs.IntVar(&o.outstanding, "outstanding", workloads.DefaultOutstanding, "requests each client keeps in flight (1 = synchronous)")
	fs.IntVar(&o.valueSize, "value-size", workloads.DefaultValueSize, "bytes per value read and written")
	fs.IntVar(&o.keys, "keys", 1000, "znodes in the key space")
	fs.DurationVar(&o.duration, "duration", d.duration, "measured duration")
	o.warmup = warmupFlag{d: d.warmup, auto: d.autoWarmup}
	fs.Var(&o.warmup, "warmup", "warm-up before measuring: a duration, or auto: until the throughput of the last 3 s is steady (coefficient of variation <= 5%, no drift over 4%), at most --warmup-max, recorded in result.json (a warning when it never steadied), a fault schedule counting from its end; with --agents the coordinator judges the agents' summed throughput")
	fs.DurationVar(&o.warmupMax, "warmup-max", defaultWarmupMax, "the longest --warmup auto")
	fs.Float64Var(&o.rate, "rate", 0, "open loop: total operations per second (0 = closed loop, saturation)")
	fs.Int64Var(&o.seed, "seed", 1, "seed of the operation sequences and of fault targets")
}

// spec builds the workload from the flags; changed reports whether a flag
// was given on the command line.
func (o loadOptions) spec(name string, changed func(string) bool) (_ workloads.Spec, err error) {
	defer func() { err = usageError(err) }()
	if o.writes.set && o.reads.set {
		return workloads.Spec{}, fmt.Errorf("give --writes or --reads, not both")
	}
	s := workloads.Default()
	if o.specFile != "" {
		var err error
		if s, err = workloads.Load(o.specFile); err != nil {
			return s, err
		}
	} else {
		s.Name = name
	}
	fromFile := o.specFile != ""
	use := func(flag string) bool { return !fromFile || changed(flag) }
	switch {
	case o.reads.set:
		s.ReadPercent = o.reads.v
		s.Mix = nil
	case o.writes.set || !fromFile:
		s.SetWritePercent(o.writes.v)
		s.Mix = nil
	}
	if use("clients") {
		s.Clients = o.clients
	}
	if use("outstanding") {
		s.Outstanding = o.outstanding
	}
	if use("value-size") {
		s.ValueSize = o.valueSize
	}
	if use("keys") {
		s.Keys = o.keys
	}
	if use("duration") {
		s.Duration = o.duration
	}
	if use("warmup") {
		if err := o.warmup.apply(&s.Warmup, &s.WarmupMax, o.warmupMax); err != nil {
			return s, err
		}
	}
	if use("seed") {
		s.Seed = o.seed
	}
	if use("rate") && o.rate > 0 {
		s.Mode, s.Rate = workloads.Open, o.rate
	}
	if err := s.Validate(); err != nil {
		return s, err
	}
	return s, nil
}

// faultSchedule resolves --faults: none, paper (scaled to the run), random
// (drawn for servers voters with rf) or a schedule file.
func faultSchedule(arg string, d time.Duration, servers int, rf randomFaults) (harness.Schedule, error) {
	switch arg {
	case "", "none":
		return harness.Schedule{}, nil
	case "paper":
		return harness.PaperSchedule(d), nil
	case "random":
		return rf.schedule(d, servers)
	}
	text, err := os.ReadFile(arg)
	if err != nil {
		return harness.Schedule{}, fmt.Errorf("--faults %s: want none, paper, random or a schedule file: %w", arg, err)
	}
	s, err := harness.ParseSchedule(string(text))
	if err != nil {
		return s, fmt.Errorf("--faults %s: %w", arg, err)
	}
	s.Name = arg
	return s, nil
}

// randomFaults are the knobs of --faults random.
type randomFaults struct {
	seed       int64 // 0: the workload's seed
	rate       float64
	mix        string
	quorumLoss time.Duration
}

func (rf *randomFaults) addFlags(fs *pflag.FlagSet) {
	fs.Int64Var(&rf.seed, "fault-seed", 0, "--faults random: seed of the schedule (default --seed)")
	fs.Float64Var(&rf.rate, "fault-rate", 0, "--faults random: mean faults per minute (default about 8 over the run)")
	fs.StringVar(&rf.mix, "fault-mix", "kill,freeze", "--faults random: faults to draw from, comma-separated: kill, freeze, partition, partition-in, partition-out (partitions route peer traffic through the proxies)")
	fs.DurationVar(&rf.quorumLoss, "fault-quorum-loss", 0, "--faults random: the longest the faults may leave fewer than a quorum of servers up (default 0: never more than a minority at once)")
}

// schedule draws the schedule of a run of duration d on servers voters.
// Every fault is repaired before the last tenth of the run (at most 3 s),
// so that the ensemble has recovered when the history's final state is
// read.
func (rf randomFaults) schedule(d time.Duration, servers int) (harness.Schedule, error) {
	var mix []harness.Action
	for _, f := range strings.Split(rf.mix, ",") {
		if f = strings.TrimSpace(f); f != "" {
			mix = append(mix, harness.Action(f))
		}
	}
	if rf.rate < 0 || rf.quorumLoss < 0 {
		return harness.Schedule{}, usageError(fmt.Errorf("--fault-rate and --fault-quorum-loss must not be negative"))
	}
	o := harness.RandomOptions{Duration: d - min(d/10, 3*time.Second), Servers: servers, Faults: mix, MaxQuorumLoss: rf.quorumLoss}
	if rf.rate > 0 {
		o.MeanGap = time.Duration(float64(time.Minute) / rf.rate)
	}
	s, err := harness.RandomSchedule(rand.New(rand.NewPCG(uint64(rf.seed), 22)), o)
	if err != nil {
		return s, usageError(fmt.Errorf("--faults random: %w", err))
	}
	s.Name = fmt.Sprintf("random (seed %d, %s)", rf.seed, strings.Join(strings.Fields(strings.ReplaceAll(rf.mix, ",", " ")), ","))
	return s, nil
}

// common holds the flags every command that runs load shares.
type common struct {
	out       string
	verbose   bool
	check     bool
	checkKeys int
	random    randomFaults
}

func (c *common) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.out, "out", "runs", "directory under which each run writes its own directory")
	fs.BoolVarP(&c.verbose, "verbose", "v", false, "log the harness's and driver's diagnostics to stderr")
	fs.BoolVar(&c.check, "check", false, "record what the clients did and saw on --check-keys keys and check it at the end (always on with faults); a violation exits 4")
	fs.IntVar(&c.checkKeys, "check-keys", 8, "keys whose every operation the history check records, spread over the key space (at most one in eight of --keys); 0 turns the check off, even with faults")
	c.random.addFlags(fs)
}

func (c common) logger(stderr io.Writer) *slog.Logger {
	if !c.verbose {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// isTTY reports whether w is a terminal.
func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// config assembles one run's configuration.
func config(e ensembleOptions, spec workloads.Spec, faults string, c common, stderr io.Writer) (experiment.Config, error) {
	log := c.logger(stderr)
	h, err := e.harness(spec.Seed, log)
	if err != nil {
		return experiment.Config{}, err
	}
	rf := c.random
	if rf.seed == 0 {
		rf.seed = spec.Seed
	}
	sched, err := faultSchedule(faults, spec.Duration, h.Servers, rf)
	if err != nil {
		return experiment.Config{}, err
	}
	for _, st := range sched.Steps {
		switch st.Action {
		case harness.Partition, harness.PartitionIn, harness.PartitionOut:
			h.PeerProxy = true // partitions are played on the peer proxies
		}
		if st.Action.IsDisk() {
			h.DiskFaults = true // disk faults are played on the fault-injecting mounts
		}
	}
	if c.check && c.checkKeys <= 0 {
		return experiment.Config{}, usageError(fmt.Errorf("--check with --check-keys %d: want at least one key", c.checkKeys))
	}
	var check bench.CheckOptions
	if c.check || len(sched.Steps) > 0 {
		check.Keys = c.checkKeys
	}
	tl, err := e.secure(&h)
	if err != nil {
		return experiment.Config{}, err
	}
	sa, err := e.saslSetup(&h)
	if err != nil {
		return experiment.Config{}, err
	}
	cfg := experiment.Config{
		Spec:        spec,
		Harness:     h,
		TLS:         tl,
		SASL:        sa,
		Schedule:    sched,
		PeerDelay:   e.peerDelay,
		ClientProxy: e.clientProxy,
		ClientDelay: e.clientDelay,
		Progress:    stderr,
		TTY:         isTTY(stderr),
		Logger:      log,
		Check:       check,
	}
	return cfg, cfg.Validate()
}

// saslSetup writes the run's JAAS file for --sasl and puts the servers'
// SASL settings into h (zoo.cfg and -D flags); nil without --sasl.
func (o ensembleOptions) saslSetup(h *harness.Options) (*harness.SASL, error) {
	if !o.sasl {
		return nil, nil
	}
	dir, err := os.MkdirTemp("", "zkbench-sasl-")
	if err != nil {
		return nil, fmt.Errorf("--sasl: %w", err)
	}
	sa, err := harness.NewSASL(dir)
	if err != nil {
		return nil, fmt.Errorf("--sasl: %w", err)
	}
	maps.Copy(h.ExtraConfig, sa.ServerConfig())
	if h.Servers > 1 {
		maps.Copy(h.ExtraConfig, sa.QuorumConfig())
	}
	h.JVMFlags = append(h.JVMFlags, sa.JVMFlags()...)
	return sa, nil
}

// secure makes the run's certificates for --tls and puts the servers' TLS
// settings into h's zoo.cfg; nil without --tls.
func (o ensembleOptions) secure(h *harness.Options) (*harness.TLS, error) {
	if !o.tls {
		return nil, nil
	}
	dir, err := os.MkdirTemp("", "zkbench-tls-")
	if err != nil {
		return nil, fmt.Errorf("--tls: %w", err)
	}
	tl, err := harness.NewTLS(dir, "")
	if err != nil {
		return nil, fmt.Errorf("--tls: %w", err)
	}
	maps.Copy(h.ExtraConfig, tl.ServerConfig())
	h.ExtraConfig["client.portUnification"] = "true"
	if h.Servers > 1 {
		maps.Copy(h.ExtraConfig, tl.QuorumConfig())
	}
	return tl, nil
}
