package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zkbench/zkbench/experiment"
	"github.com/zkbench/zkbench/internal/version"
	"github.com/zkbench/zkbench/results/changepoint"
	"github.com/zkbench/zkbench/results/plot"
	"github.com/zkbench/zkbench/results/trend"
)

type historyOptions struct {
	threshold percent
	alpha     float64
	minSize   int
	recent    int
	fail      bool
	asJSON    bool
	out       string
}

// historySummary is history.json, and what history --json prints.
type historySummary struct {
	// Zkbench is the version of the zkbench that analysed the history.
	Zkbench string `json:"zkbench"`
	// Options are the settings of the analysis.
	Threshold float64 `json:"threshold"`
	Alpha     float64 `json:"alpha"`
	MinSize   int     `json:"min_size"`
	Recent    int     `json:"recent"`
	// Series are the histories, one per workload and machine.
	Series []trend.Series `json:"series"`
	// Regressions are the steps for the worse of a gating metric among
	// each series' last Recent commits: what --fail-on-regression fails
	// on.
	Regressions []trend.Change `json:"regressions"`
	// Dir is the directory the summary and graphs were written to.
	Dir string `json:"dir"`
}

func newHistoryCmd() *cobra.Command {
	var o historyOptions
	o.threshold.v = 5
	cmd := &cobra.Command{
		Use:   "history RESULT_DIR...",
		Short: "Find the commits where performance stepped, over a history of results",
		Long: `history reads many results (run directories, or directories holding them,
such as a CI's results kept per commit), groups them by workload and
machine (the fields regress compares, plus the machine's OS, architecture,
cores and CPU model), orders each group by commit (the time of each
commit's first run; the runs of one commit are pooled by their median),
and finds the commits where throughput, p50 or p99 latency stepped, with
E-divisive means and a permutation test (--alpha), as MongoDB's
performance CI does. A step of throughput for the worse by at least
--threshold among the last --recent commits is a regression; with
--fail-on-regression, history then exits 1.

A change can only be seen once --min-size commits on each side of it have
results: a regression shows --min-size commits after it landed, and stays
among the last --recent commits for a while after that.

It writes history.json (the series, their change points and the
regressions), history.md and a trend graph per series and metric with the
change points marked (s1-throughput.png, ...) into a new directory under
--out, and prints a summary (or, with --json, history.json).` + exitCodesHelp,
		Example: `  zkbench history ci-results/
  zkbench history --fail-on-regression --recent 10 --threshold 5% ci-results/*
  zkbench history --json ci-results/ > history.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runHistory(o, args, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.Var(&o.threshold, "threshold", "smallest step of throughput for the worse that is a regression (default 5%)")
	f.Float64Var(&o.alpha, "alpha", 0.05, "significance level of each change point's permutation test")
	f.IntVar(&o.minSize, "min-size", 5, "fewest commits between change points")
	f.IntVar(&o.recent, "recent", 10, "a regression counts when it is among the last this many commits")
	f.BoolVar(&o.fail, "fail-on-regression", false, "exit 1 when a recent regression is found")
	f.BoolVar(&o.asJSON, "json", false, "print history.json instead of the summary")
	f.StringVar(&o.out, "out", "runs", "directory under which the history's directory is written")
	return cmd
}

func runHistory(o historyOptions, args []string, stdout io.Writer) error {
	switch {
	case o.threshold.v <= 0:
		return usageError(fmt.Errorf("--threshold %s: want a positive percentage, e.g. 5%%", o.threshold.String()))
	case o.alpha <= 0 || o.alpha >= 1:
		return usageError(fmt.Errorf("--alpha %g: want a significance level between 0 and 1, e.g. 0.05", o.alpha))
	case o.minSize < 2:
		return usageError(fmt.Errorf("--min-size %d: want at least 2 commits", o.minSize))
	case o.recent < 1:
		return usageError(fmt.Errorf("--recent %d: want at least 1 commit", o.recent))
	}
	rs, _, err := experiment.ReadAll(args)
	if err != nil {
		return usageError(err)
	}
	sum := historySummary{
		Zkbench:   version.Get().String(),
		Threshold: o.threshold.v / 100, Alpha: o.alpha, MinSize: o.minSize, Recent: o.recent,
		Series: trend.Analyze(rs, trend.Options{Threshold: o.threshold.v / 100, ChangePoint: changepoint.Options{MinSize: o.minSize, Alpha: o.alpha}}),
	}
	for i := range sum.Series {
		sum.Regressions = append(sum.Regressions, sum.Series[i].Regressions(o.recent)...)
	}
	dir, err := experiment.NewDir(o.out, time.Now().UTC().Format("2006-01-02T1504")+"-history")
	if err != nil {
		return err
	}
	sum.Dir = dir
	var md strings.Builder
	writeHistoryText(&md, sum)
	for i, s := range sum.Series {
		for _, m := range s.Metrics {
			p, err := plot.Trend(s, m.Name)
			if err != nil {
				return err
			}
			base := fmt.Sprintf("s%d-%s", i+1, strings.ReplaceAll(m.Name, " ", "-"))
			if _, err := plot.Save(p, filepath.Join(dir, base)); err != nil {
				return err
			}
			fmt.Fprintf(&md, "\n![%s: %s](%s.png)\n", s.Title, m.Name, base)
		}
	}
	var js strings.Builder
	if err := writeJSON(&js, sum); err != nil {
		return err
	}
	for name, text := range map[string]string{"history.json": js.String(), "history.md": md.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return fmt.Errorf("history: %w", err)
		}
	}
	if o.asJSON {
		if _, err := io.WriteString(stdout, js.String()); err != nil {
			return err
		}
	} else {
		writeHistoryText(stdout, sum)
		fmt.Fprintf(stdout, "\n%s: history.json, history.md, trend graphs\n", dir)
	}
	if len(sum.Regressions) > 0 {
		if !o.asJSON {
			fmt.Fprintf(stdout, "REGRESSION: throughput stepped down by more than %.0f%% within the last %d commits\n", o.threshold.v, o.recent)
		}
		if o.fail {
			return errRegressed
		}
	}
	return nil
}

// writeHistoryText writes the summary for people: per series, its
// commits and each metric's change points.
func writeHistoryText(w io.Writer, sum historySummary) {
	for i, s := range sum.Series {
		runs := 0
		for _, p := range s.Points {
			runs += p.Runs
		}
		fmt.Fprintf(w, "s%d: %s: %d commits, %d runs\n", i+1, s.Title, len(s.Points), runs)
		for _, m := range s.Metrics {
			if len(m.Changes) == 0 {
				fmt.Fprintf(w, "  %-12s no change\n", m.Name+":")
				continue
			}
			for _, c := range m.Changes {
				verdict := ""
				switch {
				case c.Worse && c.Gates:
					verdict = "  WORSE"
				case c.Worse:
					verdict = "  worse [informational]"
				}
				rev := c.Revision
				if len(rev) > 12 {
					rev = rev[:12]
				}
				fmt.Fprintf(w, "  %-12s change at #%d %s: %s -> %s %s (%+.1f%%, p=%.3g)%s\n", m.Name+":", c.Index, rev, num(c.Before), num(c.After), m.Unit, 100*c.Change, c.P, verdict)
			}
		}
	}
	fmt.Fprintf(w, "(E-divisive means, permutation test at alpha %.2g, segments of at least %d commits; a regression is a throughput step for the worse of at least %.0f%% among the last %d commits)\n",
		sum.Alpha, sum.MinSize, 100*sum.Threshold, sum.Recent)
}

// num formats a metric's value.
func num(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}
