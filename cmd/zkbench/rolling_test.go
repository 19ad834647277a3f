package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/testenv"
	"github.com/zkbench/zkbench/internal/zkbin"
	"github.com/zkbench/zkbench/results"
)

// TestRollingJavaGoJava runs the whole rolling replacement on 3 servers
// under 30% writes: Java replaced by Go one server at a time, followers
// first and the leader last, then back to Java. Every step must be in the
// result (each server once per leg, with the placement after it), the
// history check must pass (no acknowledged write lost), throughput must
// not stop after any step, and the graph must be drawn.
func TestRollingJavaGoJava(t *testing.T) {
	if _, err := zkbin.FindJava(zkbin.LogLog4j); err != nil {
		testenv.Missing(t, "%v", err)
	}
	dir := t.TempDir()
	var out, errb bytes.Buffer
	cmd := newRoot(&out, &errb)
	cmd.SetArgs([]string{"rolling", "--from", "java", "--to", "go", "--back", "--servers", "3", "--writes", "30%", "--check",
		"--pause", "2s", "--duration", "40s", "--warmup", "500ms", "--clients", "6", "--outstanding", "1", "--rate", "600",
		"--java-heap", "128m", "--out", dir})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := cmd.ExecuteContext(ctx); err != nil {
		t.Fatalf("rolling: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
	}
	t.Logf("stdout:\n%s", out.String())
	rd, r := readRun(t, dir, "*-mixed-3srv-30w*-rolling*")
	if r.Safety == nil || r.Safety.Verdict != results.SafetyPass || r.Safety.Ops == 0 {
		t.Errorf("history check %+v: want PASS over some operations", r.Safety)
	}

	step := regexp.MustCompile(`^(\d): replace server (\d) (java|go)->(java|go) \((\w+)\)$`)
	serving := regexp.MustCompile(`^(\d): server (\d) serves as (java|go) .*; placement (\S+)$`)
	type stepSeen struct {
		at, servedAt  time.Duration
		id, from, to  string
		role, placing string
	}
	steps := map[string]*stepSeen{}
	for _, ev := range r.Events {
		if m := step.FindStringSubmatch(ev.Detail); m != nil && ev.IsFailure() {
			steps[m[1]] = &stepSeen{at: ev.At, id: m[2], from: m[3], to: m[4], role: m[5]}
		}
	}
	for _, ev := range r.Events {
		if m := serving.FindStringSubmatch(ev.Detail); m != nil && ev.Name == "serving" && steps[m[1]] != nil {
			if steps[m[1]].id != m[2] || steps[m[1]].to != m[3] {
				t.Errorf("serving event %q does not match its step %+v", ev.Detail, *steps[m[1]])
			}
			steps[m[1]].servedAt, steps[m[1]].placing = ev.At, m[4]
		}
	}
	impl := map[string]string{"1": "java", "2": "java", "3": "java"}
	replaced := map[string]int{}
	for k := 1; k <= 6; k++ {
		s := steps[fmt.Sprint(k)]
		if s == nil {
			t.Fatalf("step %d missing from the events: %+v", k, r.Events)
		}
		from, to, role := "java", "go", "follower"
		if k > 3 {
			from, to = "go", "java"
		}
		if k%3 == 0 {
			role = "leader"
		}
		if s.from != from || s.to != to || s.role != role || impl[s.id] != from {
			t.Errorf("step %d: %+v; want a %s %s->%s (server %s ran %s)", k, *s, role, from, to, s.id, impl[s.id])
		}
		impl[s.id] = to
		replaced[s.id]++
		want := fmt.Sprintf("1:%s,2:%s,3:%s", impl["1"], impl["2"], impl["3"])
		if s.placing != want || s.servedAt <= s.at {
			t.Errorf("step %d: served at %v (began %v), placement %q; want %q", k, s.servedAt, s.at, s.placing, want)
		}
		// Throughput in the second after the new process serves.
		var ops int64
		var span time.Duration
		for _, iv := range r.Series {
			if iv.Start >= s.servedAt && iv.Start < s.servedAt+time.Second {
				ops += iv.Ops
				span += iv.Len
			}
		}
		if ops == 0 || span == 0 {
			t.Errorf("step %d: %d operations in the %v after server %s served", k, ops, span, s.id)
		}
	}
	for id, n := range replaced {
		if n != 2 {
			t.Errorf("server %s replaced %d times, want once each way", id, n)
		}
	}
	for _, f := range []string{"rolling.png", "rolling.svg"} {
		if st, err := os.Stat(filepath.Join(rd, f)); err != nil || st.Size() == 0 {
			t.Errorf("graph %s: %v", f, err)
		}
	}
	if !strings.Contains(out.String(), "history check: PASS") {
		t.Errorf("stdout does not give the history verdict:\n%s", out.String())
	}
}

func TestRollingBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"rolling", "--impl", "go"}, "--impl: rolling runs its own placement"},
		{[]string{"rolling", "--from", "java", "--to", "java"}, "nothing to replace"},
		{[]string{"rolling", "--to", "rust"}, "want go or java on both sides"},
		{[]string{"rolling", "--servers", "1"}, "want an ensemble"},
		{[]string{"rolling", "--pause", "0s"}, "want a positive time between steps"},
		{[]string{"rolling", "--check-keys", "0"}, "always checks its history"},
		{[]string{"rolling", "--pause", "10s", "--duration", "30s"}, "lengthen the run"},
	} {
		_, _, err := zkbench(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("zkbench %v: %v, want an error saying %q", tc.args, err, tc.want)
		}
	}
}
