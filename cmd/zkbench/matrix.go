package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zkbench/zkbench/experiment"
	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/internal/version"
	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/workloads"
)

// Files of a matrix directory.
const (
	matrixJSON = "matrix.json"
	matrixCSV  = "matrix.csv"
	matrixMD   = "matrix.md"
)

type matrixOptions struct {
	ens     ensembleOptions
	load    loadOptions
	impls   string
	sizes   string
	kinds   string
	targets string
	reps    int
	faultAt time.Duration
	down    time.Duration
	common
}

func newMatrixCmd() *cobra.Command {
	var o matrixOptions
	cmd := &cobra.Command{
		Use:   "matrix",
		Short: "Every fault kind N times on Go and Java: time until writes resume, failed requests, safety verdict",
		Long: `matrix runs one short load per implementation (--impls), ensemble size
(--sizes), fault kind (--faults, each aimed at every --targets) and
repetition (--reps), on a fresh ensemble each time: --fault-at into the
measured part the fault hits, --down later it is repaired. Every run's
history is checked (--check-keys).

It tabulates, per fault kind and size, the implementations side by side:
time until writes resume after the fault (median and max over the
repetitions: the harness's probe write), requests failed per run (median),
and the safety verdict (PASS only if every repetition passed). It writes
matrix.md, matrix.json and matrix.csv, and every run's directory, into a
new directory under --out. A fault kind is a fault with a repair (kill,
freeze, partition, partition-in, partition-out) or fault/repair for others
(disk-full/disk-heal).

A safety violation in any run exits 4 once the matrix is written.`,
		Example: `  zkbench matrix --impls go,java --sizes 3,5 --reps 5
  zkbench matrix --impls go --sizes 3 --faults kill,freeze --targets leader --reps 2 --duration 6s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMatrix(cmd.Context(), o, cmd.Flags().Changed, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.ens.addFlags(cmd.Flags(), 3)
	_ = cmd.Flags().MarkHidden("servers") // --sizes says it
	_ = cmd.Flags().MarkHidden("impl")    // --impls says it
	o.load.addFlags(cmd.Flags(), loadDefaults{writes: 30, clients: 20, duration: 10 * time.Second, warmup: time.Second}, true)
	cmd.Flags().StringVar(&o.impls, "impls", "go,java", "implementations, comma separated: go, java")
	cmd.Flags().StringVar(&o.sizes, "sizes", "3", "ensemble sizes, comma separated")
	cmd.Flags().StringVar(&o.kinds, "faults", "kill,freeze,partition", "fault kinds, comma separated: a fault with a known repair, or fault/repair")
	cmd.Flags().StringVar(&o.targets, "targets", "leader,follower", "whom each fault hits, comma separated: leader, follower")
	cmd.Flags().IntVar(&o.reps, "reps", 5, "repetitions of every cell")
	cmd.Flags().DurationVar(&o.faultAt, "fault-at", 3*time.Second, "when the fault hits, into the measured part")
	cmd.Flags().DurationVar(&o.down, "down", 3*time.Second, "how long the fault lasts before its repair")
	o.common.addFlags(cmd.Flags())
	return cmd
}

// repairs are the known repairs of the faults a matrix plays.
var repairs = map[harness.Action]harness.Action{
	harness.Kill: harness.Restart, harness.Freeze: harness.Thaw, harness.Partition: harness.Heal,
	harness.PartitionIn: harness.Heal, harness.PartitionOut: harness.Heal,
	harness.DiskFull: harness.DiskHeal, harness.FsyncFail: harness.DiskHeal, harness.PowerLoss: harness.Restart,
}

// faultKind is one row family of the matrix: a fault, its repair and whom
// it hits.
type faultKind struct {
	Fault  harness.Action `json:"fault"`
	Repair harness.Action `json:"repair"`
	Target string         `json:"target"`
}

func (k faultKind) String() string { return string(k.Fault) + " " + k.Target }

// schedule is k's schedule: the fault at at, its repair down later.
func (k faultKind) schedule(at, down time.Duration) (harness.Schedule, error) {
	text := fmt.Sprintf("at %v %s %s as x # 1\nat %v %s x # 1\n", at, k.Fault, k.Target, at+down, k.Repair)
	s, err := harness.ParseSchedule(text)
	if err != nil {
		return s, usageError(fmt.Errorf("--faults %s: %w", k.Fault, err))
	}
	s.Name = strings.ReplaceAll(k.String(), " ", "-")
	return s, nil
}

// parseKinds reads --faults and --targets.
func parseKinds(faults, targets string) ([]faultKind, error) {
	var out []faultKind
	for _, f := range strings.Split(faults, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		name, repair, explicit := strings.Cut(f, "/")
		k := faultKind{Fault: harness.Action(name), Repair: harness.Action(repair)}
		if !explicit {
			r, ok := repairs[k.Fault]
			if !ok {
				return nil, usageError(fmt.Errorf("--faults %s: no known repair: write it as fault/repair", f))
			}
			k.Repair = r
		}
		for _, a := range []harness.Action{k.Fault, k.Repair} {
			if _, ok := harness.FaultByName(string(a)); !ok {
				return nil, usageError(fmt.Errorf("--faults %s: unknown fault %q", f, a))
			}
		}
		for _, t := range strings.Split(targets, ",") {
			t = strings.TrimSpace(t)
			if t != "leader" && t != "follower" {
				return nil, usageError(fmt.Errorf("--targets %q: want leader or follower", t))
			}
			k.Target = t
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, usageError(fmt.Errorf("--faults %q: no fault kind", faults))
	}
	return out, nil
}

// matrixRun is one run of a cell.
type matrixRun struct {
	// Dir is the run's directory.
	Dir string `json:"dir"`
	// Resume is the time from the fault until writes were served again;
	// Resumed is false if they were not seen to be.
	Resume  time.Duration `json:"resume_ns"`
	Resumed bool          `json:"resumed"`
	// Failed counts the requests that failed over the measured part.
	Failed int64 `json:"failed"`
	// Safety is the run's verdict.
	Safety string `json:"safety"`
}

// matrixCell is one implementation, size and fault kind over its
// repetitions.
type matrixCell struct {
	Impl    string    `json:"impl"`
	Servers int       `json:"servers"`
	Kind    faultKind `json:"kind"`
	// ResumeMedian and ResumeMax are over the runs whose writes resumed;
	// NotResumed counts the others.
	ResumeMedian time.Duration `json:"resume_median_ns"`
	ResumeMax    time.Duration `json:"resume_max_ns"`
	NotResumed   int           `json:"not_resumed"`
	// FailedMedian is the median of the runs' failed requests.
	FailedMedian int64 `json:"failed_median"`
	// Safety is PASS when every run passed, FAIL when one failed, UNKNOWN
	// otherwise; Violations counts the runs that failed.
	Safety     string      `json:"safety"`
	Violations int         `json:"violations"`
	Runs       []matrixRun `json:"runs"`
	// Err is why the cell's runs could not all be made.
	Err string `json:"error,omitempty"`
}

// matrixDoc is matrix.json.
type matrixDoc struct {
	Zkbench string          `json:"zkbench"`
	Spec    json.RawMessage `json:"spec"`
	FaultAt time.Duration   `json:"fault_at_ns"`
	Down    time.Duration   `json:"down_ns"`
	Reps    int             `json:"reps"`
	Cells   []*matrixCell   `json:"cells"`
}

// matrixRunOf reads a run's figures from its result.
func matrixRunOf(dir string, r *results.Result) matrixRun {
	mr := matrixRun{Dir: dir, Safety: results.SafetyUnknown}
	if r.Safety != nil {
		mr.Safety = r.Safety.Verdict
	}
	var faultAt time.Duration
	seen := false
	for _, ev := range r.Events {
		if !strings.HasPrefix(ev.Detail, "1: ") {
			continue
		}
		switch f, ok := harness.FaultByName(ev.Name); {
		case ok && !f.Repairs() && !seen:
			faultAt, seen = ev.At, true
		case ev.Name == "recovered" && seen && !mr.Resumed:
			mr.Resume, mr.Resumed = ev.At-faultAt, true
		}
	}
	for _, st := range r.Ops {
		for _, n := range st.Errors {
			mr.Failed += n
		}
	}
	return mr
}

// summarize fills in c's figures from its runs.
func (c *matrixCell) summarize() {
	var resumes []time.Duration
	var failed []int64
	c.Safety, c.Violations, c.NotResumed = results.SafetyPass, 0, 0
	for _, r := range c.Runs {
		if r.Resumed {
			resumes = append(resumes, r.Resume)
		} else {
			c.NotResumed++
		}
		failed = append(failed, r.Failed)
		switch r.Safety {
		case results.SafetyFail:
			c.Violations++
			c.Safety = results.SafetyFail
		case results.SafetyPass:
		default:
			if c.Safety == results.SafetyPass {
				c.Safety = results.SafetyUnknown
			}
		}
	}
	if len(c.Runs) == 0 || c.Err != "" && c.Safety == results.SafetyPass {
		c.Safety = results.SafetyUnknown
	}
	slices.Sort(resumes)
	slices.Sort(failed)
	if n := len(resumes); n > 0 {
		c.ResumeMedian, c.ResumeMax = median(resumes), resumes[n-1]
	}
	if len(failed) > 0 {
		c.FailedMedian = median(failed)
	}
}

func median[T time.Duration | int64](s []T) T {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func runMatrix(ctx context.Context, o matrixOptions, changed func(string) bool, stdout, stderr io.Writer) error {
	kinds, err := parseKinds(o.kinds, o.targets)
	if err != nil {
		return err
	}
	sizes, err := parseSizes(o.sizes)
	if err != nil {
		return usageError(err)
	}
	var impls []string
	for _, i := range strings.Split(o.impls, ",") {
		switch i = strings.TrimSpace(i); i {
		case harness.ImplGo, harness.ImplJava:
			impls = append(impls, i)
		case "":
		default:
			return usageError(fmt.Errorf("--impls: %q: want go or java", i))
		}
	}
	if len(impls) == 0 || o.reps < 1 {
		return usageError(fmt.Errorf("--impls %q, --reps %d: want an implementation and at least one repetition", o.impls, o.reps))
	}
	if o.checkKeys <= 0 {
		return usageError(fmt.Errorf("--check-keys %d: a matrix checks every run", o.checkKeys))
	}
	spec, err := o.load.spec("matrix", changed)
	if err != nil {
		return err
	}
	if o.faultAt+o.down >= spec.Duration {
		return usageError(fmt.Errorf("--fault-at %v + --down %v: the repair must come before the end of the %v run", o.faultAt, o.down, spec.Duration))
	}
	dir, err := experiment.NewDir(o.out, time.Now().UTC().Format("2006-01-02T1504")+"-matrix")
	if err != nil {
		return err
	}
	specJSON, _ := json.Marshal(spec)
	doc := &matrixDoc{Zkbench: version.Get().String(), Spec: specJSON, FaultAt: o.faultAt, Down: o.down, Reps: o.reps}
	fmt.Fprintf(stderr, "zkbench matrix: %d implementations x %d sizes x %d fault kinds x %d reps, %v (+%v warm-up) each, into %s\n",
		len(impls), len(sizes), len(kinds), o.reps, spec.Duration, spec.Warmup, dir)
	for _, k := range kinds {
		for _, n := range sizes {
			for _, impl := range impls {
				cell := &matrixCell{Impl: impl, Servers: n, Kind: k}
				doc.Cells = append(doc.Cells, cell)
				if err := o.runCell(ctx, cell, spec, dir, stderr); err != nil {
					cell.Err = err.Error()
					fmt.Fprintf(stderr, "  %s %d %s: %v\n", impl, n, k, err)
				}
				cell.summarize()
				if err := writeMatrix(dir, doc); err != nil {
					return err
				}
				if ctx.Err() != nil {
					return fmt.Errorf("matrix: cancelled; %s holds what was run: %w", dir, ctx.Err())
				}
			}
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, matrixMD))
	if err != nil {
		return err
	}
	stdout.Write(md)
	fmt.Fprintf(stdout, "\n%s\n", dir)
	for _, c := range doc.Cells {
		if c.Violations > 0 {
			return &exitError{code: exitUnsafe, err: fmt.Errorf("%s: safety violations: %s", dir, violationsList(doc))}
		}
	}
	return nil
}

func violationsList(doc *matrixDoc) string {
	var out []string
	for _, c := range doc.Cells {
		if c.Violations > 0 {
			out = append(out, fmt.Sprintf("%s %d servers, %s: %d of %d runs", c.Impl, c.Servers, c.Kind, c.Violations, len(c.Runs)))
		}
	}
	return strings.Join(out, "; ")
}

// runCell runs a cell's repetitions, each on a fresh ensemble.
func (o matrixOptions) runCell(ctx context.Context, cell *matrixCell, spec workloads.Spec, dir string, stderr io.Writer) error {
	e := o.ens
	e.impl, e.servers = cell.Impl, cell.Servers
	sched, err := cell.Kind.schedule(o.faultAt, o.down)
	if err != nil {
		return err
	}
	for rep := range o.reps {
		s := spec
		s.Seed = spec.Seed + int64(rep)
		cfg, err := config(e, s, "none", o.common, stderr)
		if err != nil {
			return err
		}
		cfg.Progress = io.Discard
		cfg.Schedule = sched
		cfg.Check.Keys = o.checkKeys
		switch cell.Kind.Fault {
		case harness.Partition, harness.PartitionIn, harness.PartitionOut:
			cfg.Harness.PeerProxy = true
		}
		if cell.Kind.Fault.IsDisk() {
			cfg.Harness.DiskFaults = true
		}
		if err := cfg.Validate(); err != nil {
			return err
		}
		res, err := experiment.Run(ctx, cfg)
		if err != nil {
			return fmt.Errorf("repetition %d: %w", rep+1, err)
		}
		runDir, err := experiment.Save(filepath.Join(dir, "runs"), res)
		if err != nil {
			return err
		}
		mr := matrixRunOf(runDir, res)
		cell.Runs = append(cell.Runs, mr)
		resume := "not seen"
		if mr.Resumed {
			resume = mr.Resume.Round(time.Millisecond).String()
		}
		fmt.Fprintf(stderr, "  %s %d servers, %s, %d/%d: writes resumed after %s, %d failed, safety %s\n",
			cell.Impl, cell.Servers, cell.Kind, rep+1, o.reps, resume, mr.Failed, mr.Safety)
	}
	return nil
}

// writeMatrix writes matrix.json, matrix.csv and matrix.md into dir.
func writeMatrix(dir string, doc *matrixDoc) error {
	js, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("matrix: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, matrixJSON), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("matrix: %w", err)
	}
	var cb strings.Builder
	w := csv.NewWriter(&cb)
	w.Write([]string{"fault", "target", "servers", "impl", "runs", "resume_median_ms", "resume_max_ms", "not_resumed", "failed_median", "safety", "violations", "error"})
	for _, c := range doc.Cells {
		w.Write([]string{string(c.Kind.Fault), c.Kind.Target, strconv.Itoa(c.Servers), c.Impl, strconv.Itoa(len(c.Runs)),
			msString(c.ResumeMedian), msString(c.ResumeMax), strconv.Itoa(c.NotResumed), strconv.FormatInt(c.FailedMedian, 10),
			c.Safety, strconv.Itoa(c.Violations), c.Err})
	}
	w.Flush()
	if err := os.WriteFile(filepath.Join(dir, matrixCSV), []byte(cb.String()), 0o644); err != nil {
		return fmt.Errorf("matrix: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, matrixMD), []byte(matrixMarkdown(doc)), 0o644)
}

func msString(d time.Duration) string { return strconv.FormatFloat(d.Seconds()*1000, 'f', 0, 64) }

// matrixMarkdown is the table: one row per fault kind and size, the
// implementations side by side.
func matrixMarkdown(doc *matrixDoc) string {
	var impls []string
	type row struct {
		kind    faultKind
		servers int
	}
	var rows []row
	cells := map[row]map[string]*matrixCell{}
	for _, c := range doc.Cells {
		if !slices.Contains(impls, c.Impl) {
			impls = append(impls, c.Impl)
		}
		r := row{c.Kind, c.Servers}
		if cells[r] == nil {
			cells[r] = map[string]*matrixCell{}
			rows = append(rows, r)
		}
		cells[r][c.Impl] = c
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Fault matrix\n\nEach fault hits %v into the measured part and is repaired %v later; %d repetitions per cell, each on a fresh ensemble. ",
		doc.FaultAt, doc.Down, doc.Reps)
	b.WriteString("*resume*: time from the fault until the harness's probe write succeeded again (median / max over the repetitions; \"n not\" counts repetitions where it was not seen); *failed*: requests failed per run (median); *safety*: the history check (PASS only if every repetition passed).\n\n")
	b.WriteString("| fault | servers |")
	for _, i := range impls {
		fmt.Fprintf(&b, " %s resume median / max | %s failed | %s safety |", i, i, i)
	}
	b.WriteString("\n| --- | ---: |")
	for range impls {
		b.WriteString(" ---: | ---: | --- |")
	}
	b.WriteString("\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %d |", r.kind, r.servers)
		for _, i := range impls {
			c := cells[r][i]
			if c == nil || len(c.Runs) == 0 {
				b.WriteString(" - | - | - |")
				continue
			}
			resume := "not seen"
			if c.NotResumed < len(c.Runs) {
				resume = fmt.Sprintf("%s / %s s", secs(c.ResumeMedian), secs(c.ResumeMax))
			}
			if c.NotResumed > 0 {
				resume += fmt.Sprintf(" (%d not)", c.NotResumed)
			}
			safety := c.Safety
			if c.Violations > 0 {
				safety = fmt.Sprintf("**FAIL** %d/%d", c.Violations, len(c.Runs))
			}
			fmt.Fprintf(&b, " %s | %d | %s |", resume, c.FailedMedian, safety)
		}
		b.WriteString("\n")
	}
	var errs []string
	for _, c := range doc.Cells {
		if c.Err != "" {
			errs = append(errs, fmt.Sprintf("- %s %d servers, %s: %s", c.Impl, c.Servers, c.Kind, c.Err))
		}
	}
	if len(errs) > 0 {
		b.WriteString("\n## Runs that could not be made\n\n" + strings.Join(errs, "\n") + "\n")
	}
	return b.String()
}

func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) }
