package main

import (
	"strings"
	"testing"

	"github.com/zkbench/zkbench/experiment"
	"github.com/zkbench/zkbench/results"
)

// compare --impl go,go+sasl: without and with SASL (every driver session
// logs in; the servers authenticate each other) for the same
// implementation, in one command; each result says which it was.
func TestCompareSASL(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // the run's JAAS file
	defer noneLeft(t, tmp, "zkbench-sasl-")
	dir := t.TempDir()
	out, errOut, err := zkbench(t, "compare", "--impl", "go,go+sasl", "--duration", "1s", "--warmup", "300ms",
		"--clients", "4", "--outstanding", "2", "--out", dir)
	if err != nil {
		t.Fatalf("compare: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	if !strings.Contains(out, "go 3 srv sasl") {
		t.Errorf("the comparison does not label the SASL run:\n%s", out)
	}
	var sasl, plain int
	rs, dirs, err := experiment.ReadAll([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if got := strings.HasSuffix(dirs[i], "-sasl"); got != (r.Ensemble.Config["sasl"] != "") {
			t.Errorf("run directory %s for sasl %q", dirs[i], r.Ensemble.Config["sasl"])
		}
		switch r.Ensemble.Config["sasl"] {
		case "clients+quorum":
			sasl++
		case "":
			plain++
		default:
			t.Errorf("sasl = %q", r.Ensemble.Config["sasl"])
		}
		if s := results.Summarize(r); s.Ops == 0 || s.Errors != 0 {
			t.Errorf("sasl %q: %d ops, %d errors", r.Ensemble.Config["sasl"], s.Ops, s.Errors)
		}
	}
	if sasl != 1 || plain != 1 {
		t.Errorf("%d SASL and %d plain results, want one each", sasl, plain)
	}
}

func TestSASLNeedsLaunchedServers(t *testing.T) {
	_, _, err := zkbench(t, "run", "--impl", "external", "--connect", "127.0.0.1:1", "--sasl", "--out", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "--sasl needs servers the harness starts") {
		t.Errorf("run --sasl --impl external: %v", err)
	}
	_, _, err = zkbench(t, "run", "--sasl", "--agents", "127.0.0.1:1", "--out", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "--sasl with --agents") {
		t.Errorf("run --sasl --agents: %v", err)
	}
}
