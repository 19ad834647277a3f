package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zkbench/zkbench/internal/synth"
	"github.com/zkbench/zkbench/internal/zkbin"
)

// TestExitCodes runs the built zkbench and checks the exit code a CI sees
// for each outcome: 0 no regression, 1 regression, 2 usage or input error,
// 3 could not run.
func TestExitCodes(t *testing.T) {
	bin, err := zkbin.Build("github.com/zkbench/zkbench/cmd/zkbench")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	base := writeSynth(t, dir, "base", synth.Options{ReadPercent: 70, Throughput: 20000, Seed: 1})
	same := writeSynth(t, dir, "same", synth.Options{ReadPercent: 70, Throughput: 20000, Seed: 2})
	slow := writeSynth(t, dir, "slow", synth.Options{ReadPercent: 70, Throughput: 15000, Seed: 3})
	other := writeSynth(t, dir, "other", synth.Options{ReadPercent: 0, Seed: 4})
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		code int
		// stderr must contain this (empty: nothing is printed there).
		stderr string
	}{
		{"no regression", []string{"regress", "--baseline", base, same}, nil, 0, ""},
		{"regression", []string{"regress", "--baseline", base, slow}, nil, 1, ""},
		{"missing flag", []string{"regress", same}, nil, 2, `required flag(s) "baseline" not set`},
		{"unknown flag", []string{"regress", "--baseline", base, "--bogus", same}, nil, 2, "unknown flag: --bogus"},
		{"unknown command", []string{"regres"}, nil, 2, "unknown command"},
		{"bad value", []string{"regress", "--baseline", base, "--alpha", "2", same}, nil, 2, "--alpha 2"},
		{"missing baseline", []string{"regress", "--baseline", filepath.Join(dir, "missing"), same}, nil, 2, "no such file"},
		{"other workload", []string{"regress", "--baseline", base, other}, nil, 2, "different workload"},
		{"report of nothing", []string{"report", filepath.Join(dir, "missing")}, nil, 2, "no such file"},
		{"bad ensemble", []string{"run", "--servers", "0", "--out", dir}, nil, 2, "--servers 0"},
		{"bad workload", []string{"run", "--clients", "0", "--out", dir}, nil, 2, "clients"},
		{"both shares", []string{"run", "--writes", "30", "--reads", "70", "--out", dir}, nil, 2, "not both"},
		{"compare of nothing", []string{"compare", "--out", dir, filepath.Join(dir, "missing"), base}, nil, 2, "no such file"},
		{"history of nothing", []string{"history", "--out", dir, filepath.Join(dir, "missing")}, nil, 2, "no such file"},
		// No java on PATH: the Java server cannot start.
		{"could not run", []string{"run", "--impl", "java", "--servers", "1", "--duration", "1s", "--out", dir}, []string{"PATH=" + filepath.Dir(bin)}, 3, "java"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			cmd.Env = append(os.Environ(), tc.env...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Errorf("zkbench %s: exit %d, want %d; stderr:\n%s", strings.Join(tc.args, " "), code, tc.code, stderr.String())
			}
			if tc.stderr != "" && !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, stderr.String())
			}
		})
	}
}

// TestHelpListsExitCodes checks that --help tells a CI what the exit
// codes mean.
func TestHelpListsExitCodes(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"regress", "--help"}} {
		out, _, err := zkbench(t, args...)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Exit codes:", "0  ", "1  a significant regression", "2  ", "3  "} {
			if !strings.Contains(out, want) {
				t.Errorf("zkbench %s lacks %q:\n%s", strings.Join(args, " "), want, out)
			}
		}
	}
}
