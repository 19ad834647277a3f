package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/zkbench/zkbench/experiment"
	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/perf"
)

// repeatOptions are compare's flags for the repeated comparison (perf.Compare).
type repeatOptions struct {
	sizes    string
	reps     int
	bound    bool
	variants []string
	goCmd    string
	profiles string
	rates    string
	regimes  string
}

func (o *repeatOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.sizes, "sizes", "1,3,7", "repeated comparison: ensemble sizes, comma separated")
	fs.IntVar(&o.reps, "reps", 3, "repeated comparison: repetitions of every point (ratios pair runs of the same repetition)")
	fs.BoolVar(&o.bound, "bound", false, "repeated comparison: also measure the no-op bound (server/noop, a responder that does no work)")
	fs.StringArrayVar(&o.variants, "go-variant", nil, "repeated comparison: another Go server build as NAME=COMMAND (the zoo.cfg path is appended), reported as go's ratios against it; repeatable")
	fs.StringVar(&o.goCmd, "go-command", "", "repeated comparison: run the Go server as COMMAND (the zoo.cfg path is appended), e.g. 'bin/zkserver start-foreground', instead of from zkbench's own binary, whose size adds ~10 MiB of mapped pages to the server's RSS")
	fs.StringVar(&o.rates, "rates", "", "repeated comparison: also the latency at these fixed offered rates, open loop, after the closed-loop runs: percentages of Java's measured saturation throughput at each point (50%,90%) or operations per second (5000); reports p50/p99/p99.9 with spread and Go/Java ratios")
	fs.StringVar(&o.regimes, "regimes", "", "repeated comparison: run the whole comparison in each regime, one after the other, into a directory each with an index: sync (every client one request in flight, as Kafka brokers and lock recipes) and pipelined (--outstanding in flight, the paper's setting), e.g. sync,pipelined")
	fs.StringVar(&o.profiles, "profile", "", "repeated comparison: afterwards, profile the Go server (CPU, heap, allocations; needs the go command) at these SIZE:READS points, e.g. 1:100,1:0,3:0")
}

// given reports whether any flag of the repeated comparison was given.
func (o *repeatOptions) given(changed func(string) bool) bool {
	return changed("sizes") || changed("reps") || changed("bound") || changed("go-variant") || changed("go-command") || changed("profile") || changed("rates") || changed("regimes")
}

// parseProfiles reads --profile: SIZE:READS points, comma separated.
func parseProfiles(s string) ([]perf.ProfileConfig, error) {
	var out []perf.ProfileConfig
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		a, b, ok := strings.Cut(f, ":")
		size, err := strconv.Atoi(a)
		if !ok || err != nil || size < 1 {
			return nil, fmt.Errorf("--profile: %q is not SIZE:READS, e.g. 1:100 (one server, 100%% reads)", f)
		}
		reads, err := parsePercent(b)
		if err != nil {
			return nil, fmt.Errorf("--profile %s: %w", f, err)
		}
		name := fmt.Sprintf("ensemble%d-%gr", size, reads)
		if size == 1 {
			name = fmt.Sprintf("standalone-%gr", reads)
		}
		out = append(out, perf.ProfileConfig{Name: name, Size: size, ReadPercent: reads})
	}
	return out, nil
}

// notRepeated are compare's flags that the repeated comparison does not
// take, with what to give instead ("" when nothing).
var notRepeated = []struct{ flag, instead string }{
	{"servers", "--sizes"},
	{"writes", "--reads"},
	{"spec", ""},
	{"rate", ""},
	{"faults", ""},
	{"connect", ""},
	{"log-dir", ""},
	{"leader-serves", ""},
	{"java-heap", ""},
	{"tick-time", ""},
	{"peer-delay", ""},
	{"peer-proxy", ""},
	{"client-delay", ""},
	{"client-proxy", ""},
}

// repeatedConfig turns compare's flags into the comparison to run.
func repeatedConfig(o compareOptions, changed func(string) bool, stderr io.Writer) (perf.Config, error) {
	for _, n := range notRepeated {
		if !changed(n.flag) {
			continue
		}
		if n.instead != "" {
			return perf.Config{}, fmt.Errorf("--%s: the repeated comparison (--sizes, --reps, --bound) takes %s", n.flag, n.instead)
		}
		return perf.Config{}, fmt.Errorf("--%s: not supported by the repeated comparison (--sizes, --reps, --bound)", n.flag)
	}
	sizes, err := parseSizes(o.rep.sizes)
	if err != nil {
		return perf.Config{}, err
	}
	reads := []float64{0, 70, 100}
	if changed("reads") {
		if reads, err = parsePercents(o.reads); err != nil {
			return perf.Config{}, fmt.Errorf("--reads: %w", err)
		}
	}
	if o.rep.reps < 1 {
		return perf.Config{}, fmt.Errorf("--reps %d: want at least 1 repetition", o.rep.reps)
	}
	impls := []string{harness.ImplGo, harness.ImplJava}
	if changed("impl") {
		impls = nil
		for _, impl := range strings.Split(o.ens.impl, ",") {
			impl = strings.TrimSpace(impl)
			if impl != harness.ImplGo && impl != harness.ImplJava {
				return perf.Config{}, fmt.Errorf("--impl %q: the repeated comparison runs go and java (add the no-op bound with --bound, other Go builds with --go-variant)", impl)
			}
			if slices.Contains(impls, impl) {
				return perf.Config{}, fmt.Errorf("--impl %s: %s given twice", o.ens.impl, impl)
			}
			impls = append(impls, impl)
		}
	}
	variants := map[string][]string{}
	for _, v := range o.rep.variants {
		name, command, ok := strings.Cut(v, "=")
		name, argv := strings.TrimSpace(name), strings.Fields(command)
		switch {
		case !ok || name == "" || len(argv) == 0:
			return perf.Config{}, fmt.Errorf("--go-variant %q: want NAME=COMMAND, e.g. 'before=/tmp/zkserver start-foreground'", v)
		case slices.Contains([]string{harness.ImplGo, harness.ImplJava, harness.ImplExternal, perf.ImplNoop}, name):
			return perf.Config{}, fmt.Errorf("--go-variant %s: %q names a built-in implementation; pick another name", v, name)
		case variants[name] != nil:
			return perf.Config{}, fmt.Errorf("--go-variant %s: %q given twice", v, name)
		}
		variants[name] = argv
		impls = append(impls, name)
	}
	if o.rep.bound {
		impls = append(impls, perf.ImplNoop)
	}
	if len(impls) < 2 {
		return perf.Config{}, fmt.Errorf("nothing to compare: --impl %s alone; add --impl java, --bound or --go-variant", strings.Join(impls, ","))
	}
	// The load flags are checked as a workload, as every other command does.
	spec, err := o.load.spec("compare", changed)
	if err != nil {
		return perf.Config{}, err
	}
	goCmd, err := selfCommand(internalServer, "start-foreground")
	if err != nil {
		return perf.Config{}, err
	}
	if o.rep.goCmd != "" {
		if goCmd = strings.Fields(o.rep.goCmd); len(goCmd) == 0 {
			return perf.Config{}, fmt.Errorf("--go-command %q: give the command that starts a Go server", o.rep.goCmd)
		}
	}
	noopCmd, err := selfCommand(internalNoop)
	if err != nil {
		return perf.Config{}, err
	}
	rates, err := perf.ParseRates(o.rep.rates)
	if err != nil {
		return perf.Config{}, fmt.Errorf("--rates: %w", err)
	}
	if !changed("warmup") {
		// Steady state before measuring (issue 19): Java's JIT climbs for
		// seconds, and a fixed warm-up mixes cold and warm Java.
		spec.Warmup, spec.WarmupMax = 0, o.load.warmupMax
	}
	c := perf.Config{
		Sizes: sizes, ReadPercents: reads, Reps: o.rep.reps, Impls: impls,
		Clients: spec.Clients, Outstanding: spec.Outstanding, ValueSize: spec.ValueSize, Keys: spec.Keys,
		Warmup: spec.Warmup, WarmupMax: spec.WarmupMax, Duration: spec.Duration, Seed: spec.Seed, Rates: rates,
		GoCommand: goCmd, GoShared: o.rep.goCmd == "", NoopCommand: noopCmd, GoVariants: variants,
		ServerCPUs: o.ens.serverCPUs,
		Log:        stderr,
		Logger:     o.common.logger(stderr),
	}
	if len(variants) == 0 {
		c.GoVariants = nil
	}
	return c, c.Validate()
}

// regime is one way the clients load the servers in the repeated
// comparison.
type regime struct {
	name        string
	outstanding int
}

// parseRegimes reads --regimes: sync (1 outstanding request per client)
// and pipelined (outstanding per client, more than one), comma separated;
// none gives nil, one comparison at --outstanding.
func parseRegimes(s string, outstanding int) ([]regime, error) {
	var out []regime
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		var rg regime
		switch f {
		case "":
			continue
		case "sync":
			rg = regime{f, 1}
		case "pipelined":
			if outstanding < 2 {
				return nil, fmt.Errorf("--regimes pipelined: --outstanding %d is not pipelined; give the requests in flight per client (e.g. 100)", outstanding)
			}
			rg = regime{f, outstanding}
		default:
			return nil, fmt.Errorf("--regimes: %q: want sync or pipelined", f)
		}
		if slices.Contains(out, rg) {
			return nil, fmt.Errorf("--regimes %s: %s given twice", s, f)
		}
		out = append(out, rg)
	}
	return out, nil
}

// runRegimes runs the comparison c once per regime, into a directory each
// under dir, and writes dir/report.md, an index of their summaries.
func runRegimes(ctx context.Context, c perf.Config, regimes []regime, dir string, stdout io.Writer) error {
	var index strings.Builder
	fmt.Fprintf(&index, "# Go vs Java ZooKeeper: zkbench compare in %d regimes\n\n", len(regimes))
	var errs []error
	for _, rg := range regimes {
		cc := c
		cc.Outstanding = rg.outstanding
		rep, err := perf.Compare(ctx, cc)
		if rep != nil {
			if werr := rep.WriteFiles(filepath.Join(dir, rg.name)); werr != nil {
				err = errors.Join(err, werr)
			}
			// The regime's summary, its headings one level down.
			summary := strings.ReplaceAll("\n"+rep.Summary(), "\n## ", "\n### ")
			part := fmt.Sprintf("## %s: %d clients x %d outstanding\n\nThe whole report: [%s/report.md](%s/report.md).\n%s\n",
				rg.name, cc.Clients, rg.outstanding, rg.name, rg.name, summary)
			index.WriteString(part)
			fmt.Fprint(stdout, part)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("regime %s: %w", rg.name, err))
			break
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(index.String()), 0o644); err != nil {
		errs = append(errs, err)
	}
	fmt.Fprintf(stdout, "%s: report.md and, per regime, report.md and report.json\n", dir)
	return errors.Join(errs...)
}

// runRepeated runs the repeated comparison and writes report.md and
// report.json into a new directory under --out, also when it stopped
// part-way (the error then says why).
func runRepeated(ctx context.Context, o compareOptions, changed func(string) bool, stdout, stderr io.Writer) error {
	c, err := repeatedConfig(o, changed, stderr)
	if err != nil {
		return err
	}
	profiles, err := parseProfiles(o.rep.profiles)
	if err != nil {
		return err
	}
	regimes, err := parseRegimes(o.rep.regimes, c.Outstanding)
	if err != nil {
		return err
	}
	if len(regimes) > 0 && len(profiles) > 0 {
		return fmt.Errorf("--profile with --regimes: profile in a comparison of its own (--outstanding N --profile ...)")
	}
	profCmd, err := selfCommand(internalProfServer, "start-foreground")
	if err != nil {
		return err
	}
	name := time.Now().UTC().Format("2006-01-02T1504") + "-compare-" + strings.Join(c.Impls, "-") + fmt.Sprintf("-x%d", c.Reps)
	dir, err := experiment.NewDir(o.out, name)
	if err != nil {
		return err
	}
	runs := c.Reps * len(c.Sizes) * len(c.ReadPercents) * len(c.Impls) * (1 + len(c.Rates)) * max(1, len(regimes))
	each := fmt.Sprintf("%v", c.Warmup+c.Duration)
	if c.WarmupMax > 0 {
		each = fmt.Sprintf("%v after a warm-up until steady (at most %v)", c.Duration, c.WarmupMax)
	}
	fmt.Fprintf(stderr, "zkbench: compare %s: sizes %v x reads %v x %d repetition(s) x (saturation + %d fixed rates) = %d runs of %s, into %s\n",
		strings.Join(c.Impls, ", "), c.Sizes, c.ReadPercents, c.Reps, len(c.Rates), runs, each, dir)
	if len(regimes) > 0 {
		return runRegimes(ctx, c, regimes, dir, stdout)
	}
	rep, err := perf.Compare(ctx, c)
	if rep == nil {
		return err
	}
	if err == nil {
		err = profileGo(ctx, c, profiles, profCmd, filepath.Join(dir, "profiles"), rep, stderr)
	}
	if werr := rep.WriteFiles(dir); werr != nil {
		return errors.Join(err, werr)
	}
	fmt.Fprint(stdout, rep.Summary())
	fmt.Fprintf(stdout, "%s: report.md, report.json\n", dir)
	return err
}

// profileGo profiles the Go server started with command at every point of
// profiles, under c's load, into dir, and adds the summaries to rep.
func profileGo(ctx context.Context, c perf.Config, profiles []perf.ProfileConfig, command []string, dir string, rep *perf.Report, stderr io.Writer) error {
	for _, pc := range profiles {
		fmt.Fprintf(stderr, "zkbench: profiling the Go server, %d server(s), %g%% reads\n", pc.Size, pc.ReadPercent)
		pc.Load, pc.Command, pc.Binary, pc.Dir = c, command, command[0], dir
		pc.Load.Log = nil
		ps, err := perf.Profile(ctx, pc)
		if err != nil {
			return fmt.Errorf("profile %s: %w", pc.Name, err)
		}
		rep.Profiles = append(rep.Profiles, ps...)
	}
	return nil
}

// selfCommand is the command line that runs this binary with args: how
// zkbench launches the servers it embeds (internalServer, internalNoop).
func selfCommand(args ...string) ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("cannot find the zkbench binary to launch servers from: %w", err)
	}
	return append([]string{exe}, args...), nil
}
