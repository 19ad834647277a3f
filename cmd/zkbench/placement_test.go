package main

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/testenv"
	"github.com/zkbench/zkbench/internal/zkbin"
)

// TestMixedRunRecordsPlacement: a mixed run's result says which server
// ids ran which implementation, and its report and graphs' titles say it.
func TestMixedRunRecordsPlacement(t *testing.T) {
	if _, err := zkbin.FindJava(zkbin.LogLog4j); err != nil {
		testenv.Missing(t, "%v", err)
	}
	dir := t.TempDir()
	var out, errb bytes.Buffer
	cmd := newRoot(&out, &errb)
	cmd.SetArgs([]string{"run", "--impl", "mixed", "--placement", "go=1,java=2", "--servers", "3", "--duration", "1s", "--warmup", "500ms",
		"--clients", "2", "--outstanding", "1", "--java-heap", "128m", "--out", dir})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := cmd.ExecuteContext(ctx); err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
	}
	rd, r := readRun(t, dir, "*-mixed-3srv-*")
	if want := map[int64]string{1: "go", 2: "java", 3: "java"}; !maps.Equal(r.Ensemble.Placement, want) {
		t.Errorf("placement %v, want %v", r.Ensemble.Placement, want)
	}
	label := "mixed (go 1; java 2,3)"
	report, err := os.ReadFile(filepath.Join(rd, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(report), label) {
		t.Errorf("report.md does not name the placement %q:\n%.400s", label, report)
	}
}
