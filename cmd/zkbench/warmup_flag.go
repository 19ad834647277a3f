package main

import (
	"fmt"
	"time"
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
