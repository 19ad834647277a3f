package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/zkbench/zkbench/experiment"
	"github.com/zkbench/zkbench/results"
)

// compare --impl go,go+tls: plaintext against TLS (clients and quorum)
// for the same implementation, in one command; each result says which
// it was.
func TestCompareTLS(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // the run's secrets
	defer noneLeft(t, tmp, "zkbench-tls-")
	dir := t.TempDir()
	out, errOut, err := zkbench(t, "compare", "--impl", "go,go+tls", "--duration", "1s", "--warmup", "300ms",
		"--clients", "4", "--outstanding", "2", "--out", dir)
	if err != nil {
		t.Fatalf("compare: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	if !strings.Contains(out, "go 3 srv tls") {
		t.Errorf("the comparison does not label the TLS run:\n%s", out)
	}
	var tls, plain int
	rs, dirs, err := experiment.ReadAll([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if got := strings.HasSuffix(dirs[i], "-tls"); got != (r.Ensemble.Config["tls"] != "") {
			t.Errorf("run directory %s for tls %q", dirs[i], r.Ensemble.Config["tls"])
		}
		switch r.Ensemble.Config["tls"] {
		case "clients+quorum":
			tls++
		case "":
			plain++
		default:
			t.Errorf("tls = %q", r.Ensemble.Config["tls"])
		}
		if s := results.Summarize(r); s.Ops == 0 || s.Errors != 0 {
			t.Errorf("tls %q: %d ops, %d errors", r.Ensemble.Config["tls"], s.Ops, s.Errors)
		}
	}
	if tls != 1 || plain != 1 {
		t.Errorf("%d TLS and %d plaintext results, want one each", tls, plain)
	}
}

func TestTLSNeedsLaunchedServers(t *testing.T) {
	_, _, err := zkbench(t, "run", "--impl", "external", "--connect", "127.0.0.1:1", "--tls", "--out", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "--tls needs servers the harness starts") {
		t.Errorf("run --tls --impl external: %v", err)
	}
}

// The agents' drivers dial plaintext, which the servers' unified ports
// would take: a TLS run through agents is refused rather than recorded
// as TLS.
func TestTLSWithAgentsRefused(t *testing.T) {
	_, _, err := zkbench(t, "run", "--tls", "--agents", "127.0.0.1:1", "--out", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "--tls with --agents") {
		t.Errorf("run --tls --agents: %v", err)
	}
}

// noneLeft fails the test if a directory starting with prefix (one run's
// certificates or JAAS file) is left in dir: they are secrets of one run.
func noneLeft(t *testing.T, dir, prefix string) {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(dir, prefix+"*"))
	if len(left) > 0 {
		t.Errorf("the runs left their secrets behind: %v", left)
	}
}
