package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/results"
)

// A run's figures come from its numbered events and error counts: the
// time from the fault to the "recovered" mark, the failed requests, the
// verdict.
func TestMatrixRunOf(t *testing.T) {
	r := &results.Result{
		Events: []results.Event{
			{At: -time.Second, Name: "load", Detail: "warm-up starts"},
			{At: 3 * time.Second, Name: "kill", Detail: "1: kill server 2 (leader)"},
			{At: 3200 * time.Millisecond, Name: "elected", Detail: "1: server 3 leads after 200ms"},
			{At: 3450 * time.Millisecond, Name: "recovered", Detail: "1: writes served again after 450ms"},
			{At: 6 * time.Second, Name: "restart", Detail: "1: restart server 2"},
		},
		Ops:    map[string]*results.OpStats{"getData": {Errors: map[string]int64{"connection_loss": 3}}, "setData": {Errors: map[string]int64{"connection_loss": 2, "timeout": 1}}},
		Safety: &results.Safety{Verdict: results.SafetyPass},
	}
	mr := matrixRunOf("d", r)
	if !mr.Resumed || mr.Resume != 450*time.Millisecond || mr.Failed != 6 || mr.Safety != results.SafetyPass {
		t.Fatalf("%+v: want resumed after 450ms, 6 failed, PASS", mr)
	}
	r.Events = r.Events[:2]
	r.Safety = nil
	if mr := matrixRunOf("d", r); mr.Resumed || mr.Safety != results.SafetyUnknown {
		t.Errorf("%+v: want not resumed and an unknown verdict", mr)
	}
}

// Cells summarize their repetitions; the Markdown puts implementations side
// by side, one row per fault kind and size, and a violation stands out.
func TestMatrixTable(t *testing.T) {
	k := faultKind{Fault: "kill", Repair: "restart", Target: "leader"}
	goCell := &matrixCell{Impl: "go", Servers: 3, Kind: k, Runs: []matrixRun{
		{Resume: 300 * time.Millisecond, Resumed: true, Failed: 10, Safety: "PASS"},
		{Resume: 100 * time.Millisecond, Resumed: true, Failed: 30, Safety: "PASS"},
		{Resume: 900 * time.Millisecond, Resumed: true, Failed: 20, Safety: "FAIL"},
	}}
	javaCell := &matrixCell{Impl: "java", Servers: 3, Kind: k, Runs: []matrixRun{
		{Resume: 2 * time.Second, Resumed: true, Failed: 50, Safety: "PASS"},
		{Resumed: false, Failed: 70, Safety: "PASS"},
	}}
	goCell.summarize()
	javaCell.summarize()
	if goCell.ResumeMedian != 300*time.Millisecond || goCell.ResumeMax != 900*time.Millisecond || goCell.FailedMedian != 20 || goCell.Safety != "FAIL" || goCell.Violations != 1 {
		t.Errorf("go cell %+v", goCell)
	}
	if javaCell.NotResumed != 1 || javaCell.ResumeMax != 2*time.Second || javaCell.FailedMedian != 60 || javaCell.Safety != "PASS" {
		t.Errorf("java cell %+v", javaCell)
	}
	doc := &matrixDoc{FaultAt: 3 * time.Second, Down: 3 * time.Second, Reps: 3, Cells: []*matrixCell{goCell, javaCell}}
	md := matrixMarkdown(doc)
	for _, want := range []string{"| fault | servers | go resume median / max | go failed | go safety | java resume median / max |",
		"| kill leader | 3 | 0.30 / 0.90 s | 20 | **FAIL** 1/3 | 2.00 / 2.00 s (1 not) | 60 | PASS |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	dir := t.TempDir()
	if err := writeMatrix(dir, doc); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, matrixCSV))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) != 3 || rows[1][3] != "go" || rows[1][5] != "300" || rows[2][7] != "1" {
		t.Errorf("csv %v (%v)", rows, err)
	}
	var back matrixDoc
	js, _ := os.ReadFile(filepath.Join(dir, matrixJSON))
	if err := json.Unmarshal(js, &back); err != nil || len(back.Cells) != 2 || back.Cells[0].Violations != 1 {
		t.Errorf("matrix.json: %v %+v", err, back.Cells)
	}
}

func TestMatrixBadFlags(t *testing.T) {
	for _, tc := range []struct{ faults, targets, want string }{
		{"kill,explode", "leader", "explode"},
		{"delay", "leader", "write it as fault/repair"},
		{"kill", "observer", "want leader or follower"},
	} {
		if _, err := parseKinds(tc.faults, tc.targets); exitCode(err) != exitUsage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--faults %s --targets %s: %v, want exit 2 and %q", tc.faults, tc.targets, err, tc.want)
		}
	}
	kinds, err := parseKinds("kill, freeze/thaw", "leader,follower")
	if err != nil || len(kinds) != 4 || kinds[3].String() != "freeze follower" || kinds[3].Repair != "thaw" {
		t.Errorf("kinds %v (%v)", kinds, err)
	}
}

// The smallest real matrix: one Go ensemble of 3, the leader killed once.
func TestMatrixGoSmoke(t *testing.T) {
	dir := t.TempDir()
	out, errOut, err := zkbench(t, "matrix", "--impls", "go", "--sizes", "3", "--faults", "kill", "--targets", "leader", "--reps", "1",
		"--duration", "5s", "--warmup", "300ms", "--fault-at", "1s", "--down", "2s", "--clients", "4", "--outstanding", "2", "--out", dir)
	if err != nil {
		t.Fatalf("matrix: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	if !strings.Contains(out, "| kill leader | 3 |") || !strings.Contains(out, "| PASS |") {
		t.Errorf("table:\n%s", out)
	}
	dirs, _ := filepath.Glob(filepath.Join(dir, "*-matrix", matrixJSON))
	if len(dirs) != 1 {
		t.Fatalf("matrix.json: %v", dirs)
	}
	var doc matrixDoc
	js, _ := os.ReadFile(dirs[0])
	if err := json.Unmarshal(js, &doc); err != nil || len(doc.Cells) != 1 || len(doc.Cells[0].Runs) != 1 {
		t.Fatalf("matrix.json: %v %s", err, js)
	}
	if c := doc.Cells[0]; c.NotResumed != 0 || c.ResumeMax <= 0 || c.ResumeMax > 10*time.Second {
		t.Errorf("cell %+v: want writes resumed within seconds", c)
	}
}
