package harness

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"time"
)

// Implementations of the ensemble.
const (
	ImplGo       = "go"
	ImplJava     = "java"
	ImplExternal = "external"
	// ImplMixed runs Go and Java servers in one ensemble, as
	// Options.Placement says.
	ImplMixed = "mixed"
)

// Options describe the ensemble to start. The zero value of every field but
// Impl (and GoCommand for "go", Connect for "external") has a usable default.
type Options struct {
	// Impl is "go", "java", "mixed" or "external".
	Impl string
	// Placement, for ImplMixed, says how many servers run each
	// implementation, e.g. "go=2,java=1": ids are given in the order
	// listed (here 1 and 2 run Go, 3 Java; a fresh ensemble elects its
	// highest id), observers included, and the counts add up to
	// Servers+Observers.
	Placement string
	// Servers is the number of voting servers (default 3). One server runs
	// standalone unless Observers > 0.
	Servers int
	// Observers is the number of non-voting observers added after the voters.
	Observers int
	// LeaderServes lets the leader accept client connections. The zero value
	// writes leaderServes=no, as in the setup of the ZooKeeper paper.
	LeaderServes bool
	// RunDir holds each server's directory (server-N: zoo.cfg, data, logs).
	// Empty means a new temporary directory, removed by Close.
	RunDir string
	// LogDir, if set, puts each server's transaction log (dataLogDir) on
	// another disk: "{id}" in it is replaced by the server id, otherwise the
	// directory LogDir/server-N is used.
	LogDir string
	// GoCommand is the command line that starts a Go server, without the
	// config path, which is appended: e.g. {"/path/zkserver",
	// "start-foreground"} or {os.Args[0], "internal-zkserver",
	// "start-foreground"}.
	GoCommand []string
	// JavaHome is a ZooKeeper installation (its lib/*.jar and *.jar are put on
	// the class path). Empty means Debian's jars under /usr/share/java.
	JavaHome string
	// JavaClasspath, if set, replaces the computed class path.
	JavaClasspath string
	// JavaBin is the java executable (default: "java" from PATH).
	JavaBin string
	// JavaHeap is the JVM's maximum heap, as for -Xmx (default "512m").
	JavaHeap string
	// JavaOpts are extra JVM options, placed before the main class.
	JavaOpts []string
	// JVMFlags are -D flags for every server, as zkServer.sh users give
	// them in SERVER_JVMFLAGS (-Djava.security.auth.login.config=...): a
	// Java server gets them on its command line, a Go server in
	// SERVER_JVMFLAGS.
	JVMFlags []string
	// ServerCPUs is how many CPUs each launched server is told it may use:
	// GOMAXPROCS for a Go server, -XX:ActiveProcessorCount for a Java one,
	// so that both runtimes size their schedulers, GC and thread pools alike.
	// The servers share this machine with the load driver, so zero gives
	// every server an equal share with the driver,
	// max(1, NumCPU / (servers + observers + 1)); negative leaves each
	// runtime to its own default (every CPU). External ensembles ignore it.
	ServerCPUs int
	// Connect is the connection string of an external ensemble,
	// "host:port,host:port,..."; server ids are 1.. in that order.
	Connect string
	// External holds the commands that inject faults into an external
	// ensemble.
	External ExternalCommands
	// TickTime in milliseconds (default 2000); InitLimit and SyncLimit in
	// ticks (defaults 10 and 5).
	TickTime, InitLimit, SyncLimit int
	// ForceSync, if set, writes forceSync=yes or no.
	ForceSync *bool
	// ExtraConfig is appended to every zoo.cfg (keys are written sorted) and
	// overrides generated keys of the same name.
	ExtraConfig map[string]string
	// DiskFaults puts each server's data directories (dataDir, and
	// dataLogDir when LogDir is set) on a fault-injecting FUSE mount
	// (package faultfs) over a sibling "<dir>.disk", so that the disk
	// faults (disk-full, disk-heal, fsync-slow, fsync-fail, power-loss)
	// can be injected. It needs root and /dev/fuse, and costs a trip
	// through the FUSE daemon per file operation, so leave it off for pure
	// throughput runs. The mounts are removed by Close; Start first
	// unmounts any a killed process left behind.
	DiskFaults bool
	// PeerProxy routes all quorum and election traffic through fault
	// proxies, which Partition, Heal and Delay need. It costs a copy per
	// peer message, so leave it off for pure throughput runs.
	PeerProxy bool
	// PollInterval is how often each server's role is polled with srvr
	// (default 200ms).
	PollInterval time.Duration
	// MntrInterval is how often every server is sampled: mntr (the keys
	// in MntrKeys) and its process's CPU and RSS (default
	// DefaultMntrInterval; negative disables).
	MntrInterval time.Duration
	// StartTimeout bounds Start's wait for a serving quorum (default 60s).
	StartTimeout time.Duration
	// SkipWriteCheck makes WaitServing trust srvr alone, without a test write.
	SkipWriteCheck bool
	// ReadyHook, if set, is run by WaitServing after the quorum check and
	// the test write; an error from it fails WaitServing.
	ReadyHook func(ctx context.Context, e *Ensemble) error
	// Seed seeds the choice among equal candidates for role targets
	// ("follower", "any"). Runs with the same seed pick alike.
	Seed int64
	// Logger receives the harness's own log (default: discarded).
	Logger *slog.Logger

	// afterPorts, for tests, runs after each attempt's ports are chosen.
	afterPorts func(attempt int, clientPorts []int)
}

// ExternalCommands are shell commands (run with sh -c) that act on one
// server of an external ensemble. "{id}" and "{host}" are replaced by the
// server's id and host. An empty command makes that fault unavailable.
type ExternalCommands struct {
	Kill, Restart, Freeze, Thaw string
	// Partition cuts the server off from the other servers both ways,
	// PartitionIn only what they send it, PartitionOut only what it sends
	// them; Heal undoes any of them. Clients must still reach the server.
	Partition, PartitionIn, PartitionOut, Heal string
}

// command returns the command for action a ("" if none, or if a is not
// a fault external ensembles take).
func (c ExternalCommands) command(a Action) string {
	switch a {
	case Kill:
		return c.Kill
	case Restart:
		return c.Restart
	case Freeze:
		return c.Freeze
	case Thaw:
		return c.Thaw
	case Partition:
		return c.Partition
	case PartitionIn:
		return c.PartitionIn
	case PartitionOut:
		return c.PartitionOut
	case Heal:
		return c.Heal
	}
	return ""
}

func (o *Options) withDefaults() error {
	switch o.Impl {
	case ImplGo, ImplMixed:
		if len(o.GoCommand) == 0 {
			return fmt.Errorf("harness: impl %q needs Options.GoCommand (e.g. [/path/zkserver start-foreground])", o.Impl)
		}
	case ImplJava, ImplExternal:
	case "":
		return fmt.Errorf("harness: Options.Impl is empty; want %q, %q, %q or %q", ImplGo, ImplJava, ImplMixed, ImplExternal)
	default:
		return fmt.Errorf("harness: unknown impl %q; want %q, %q, %q or %q", o.Impl, ImplGo, ImplJava, ImplMixed, ImplExternal)
	}
	if o.Impl != ImplMixed && o.Placement != "" {
		return fmt.Errorf("harness: a placement (%q) is for impl %q, not %q", o.Placement, ImplMixed, o.Impl)
	}
	if o.Impl == ImplExternal && o.Connect == "" {
		return fmt.Errorf("harness: impl %q needs Options.Connect", o.Impl)
	}
	if o.Servers == 0 {
		o.Servers = 3
	}
	if o.Servers < 0 || o.Observers < 0 {
		return fmt.Errorf("harness: %d servers and %d observers: counts must not be negative", o.Servers, o.Observers)
	}
	if o.Servers+o.Observers > 255 {
		return fmt.Errorf("harness: %d servers is too many for one machine", o.Servers+o.Observers)
	}
	if o.Impl == ImplMixed {
		if _, err := ParsePlacement(o.Placement, o.Servers+o.Observers); err != nil {
			return err
		}
	}
	if o.ServerCPUs == 0 {
		o.ServerCPUs = max(1, runtime.NumCPU()/(o.Servers+o.Observers+1))
	}
	if o.TickTime == 0 {
		o.TickTime = 2000
	}
	if o.InitLimit == 0 {
		o.InitLimit = 10
	}
	if o.SyncLimit == 0 {
		o.SyncLimit = 5
	}
	if o.JavaHeap == "" {
		o.JavaHeap = "512m"
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 200 * time.Millisecond
	}
	if o.MntrInterval == 0 {
		o.MntrInterval = DefaultMntrInterval
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 60 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// quorumed reports whether the ensemble runs with server.N lines.
func (o *Options) quorumed() bool { return o.Servers+o.Observers > 1 }
