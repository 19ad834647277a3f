package perf

import (
	"fmt"
	"strings"
	"time"

	"github.com/zkbench/zkbench/results"
)

// warmupNote is the end of a run's log line: how its automatic warm-up
// went, loudly when it never steadied; "" for a fixed warm-up.
func warmupNote(w *results.Warmup) string {
	switch {
	case w == nil:
		return ""
	case w.Settled:
		return fmt.Sprintf("  warm-up %v", w.Took.Round(100*time.Millisecond))
	default:
		return fmt.Sprintf("  WARNING: warm-up never steady in %v (CV %.1f%%, drift %.1f%%)", w.Took.Round(100*time.Millisecond), 100*w.CV, 100*w.Drift)
	}
}

// WarmupFigure is how long one implementation's automatic warm-ups took,
// in closed or open loop, over every run.
type WarmupFigure struct {
	Impl string `json:"impl"`
	// Loop is "closed" (saturation) or "open" (the fixed-rate runs).
	Loop string `json:"loop"`
	// Seconds is the warm-up's length; Unsettled counts the runs whose
	// throughput never steadied (they ran to the maximum), of Runs.
	Seconds   results.Dist `json:"seconds"`
	Unsettled int          `json:"unsettled"`
	Runs      int          `json:"runs"`
}

// WarmupFigures aggregates the automatic warm-ups per implementation and
// loop, in the order the implementations were configured.
func (r *Report) WarmupFigures() []WarmupFigure {
	var out []WarmupFigure
	for _, loop := range []string{"closed", "open"} {
		for _, impl := range r.Config.Impls {
			f := WarmupFigure{Impl: impl, Loop: loop}
			var secs []float64
			for _, s := range r.Samples {
				if s.Impl != impl || s.Warmup == nil || (s.Rate > 0) != (loop == "open") {
					continue
				}
				f.Runs++
				secs = append(secs, s.Warmup.Took.Seconds())
				if !s.Warmup.Settled {
					f.Unsettled++
				}
			}
			if f.Runs > 0 {
				f.Seconds = results.DistOf(secs)
				out = append(out, f)
			}
		}
	}
	return out
}

// writeWarmups writes the table of automatic warm-ups, if there were any.
func (r *Report) writeWarmups(b *strings.Builder) {
	figs := r.WarmupFigures()
	if len(figs) == 0 {
		return
	}
	b.WriteString("\n## Warm-up until steady (s)\n\n")
	if rule := r.firstRule(); rule != "" {
		fmt.Fprintf(b, "Each run warmed up until steady: %s; at most %v.\n\n", rule, r.Config.WarmupMax)
	}
	b.WriteString("| impl | loop | warm-up | never steady |\n| --- | --- | ---: | ---: |\n")
	for _, f := range figs {
		never := fmt.Sprintf("%d of %d", f.Unsettled, f.Runs)
		if f.Unsettled > 0 {
			never = "**" + never + "**"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", f.Impl, f.Loop, fmtDist(f.Seconds, "%.1f"), never)
	}
}

func (r *Report) firstRule() string {
	for _, s := range r.Samples {
		if s.Warmup != nil {
			return s.Warmup.Rule
		}
	}
	return ""
}
