package main

import (
	"fmt"
	"io"
	"time"

	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/workloads"
)

// defaultWarmupMax bounds --warmup auto: Java's JIT needs about 6 s at
// 60 x 1 (issue 19), a slow or noisy machine more; 30 s is five times that
// and still short beside a comparison's dozens of runs.
const defaultWarmupMax = 30 * time.Second

// warmupFlag is --warmup: a fixed duration, or "auto", a warm-up that lasts
// until the throughput is steady (bench's rule), at most --warmup-max.
type warmupFlag struct {
	d    time.Duration
	auto bool
}

// String returns the flag's value as Set accepts it.
func (w *warmupFlag) String() string {
	if w.auto {
		return "auto"
	}
	return w.d.String()
}

// Set parses "auto" or a duration.
func (w *warmupFlag) Set(s string) error {
	if s == "auto" {
		*w = warmupFlag{auto: true}
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return fmt.Errorf("want auto or a duration such as 2s")
	}
	*w = warmupFlag{d: d}
	return nil
}

// Type names the flag's kind in the help.
func (w *warmupFlag) Type() string { return "auto|duration" }

// apply sets the spec's warm-up: fixed, or automatic up to max (then the
// rule's own window is the shortest warm-up).
func (w warmupFlag) apply(warmup, warmupMax *time.Duration, max time.Duration) error {
	if !w.auto {
		*warmup, *warmupMax = w.d, 0
		return nil
	}
	if max <= 0 {
		return fmt.Errorf("--warmup-max %v: want a positive bound for --warmup auto", max)
	}
	*warmup, *warmupMax = 0, max
	return nil
}

// warmupText describes a spec's warm-up for a progress line.
func warmupText(s workloads.Spec) string {
	if s.WarmupMax > 0 {
		return fmt.Sprintf("warm-up until steady, at most %v", s.WarmupMax)
	}
	return fmt.Sprintf("%v warm-up", s.Warmup)
}

// warnWarmup says on stderr, beside the result's own warning, that a run's
// automatic warm-up never found a steady throughput.
func warnWarmup(stderr io.Writer, dir string, r *results.Result) {
	if w := r.Warmup; w != nil && !w.Settled {
		fmt.Fprintf(stderr, "zkbench: WARNING: %s: warm-up never steady in %v (throughput CV %.1f%%, drift %.1f%% over the last window); the measured part may hold a climb\n",
			dir, w.Took.Round(100*time.Millisecond), 100*w.CV, 100*w.Drift)
	}
}
