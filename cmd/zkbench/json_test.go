package main

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/experiment"
	"github.com/zkbench/zkbench/internal/synth"
)

// TestRegressJSON: regress --json prints the comparison as JSON, and only
// that, with the same exit code as the table.
func TestRegressJSON(t *testing.T) {
	dir := t.TempDir()
	base := writeSynth(t, dir, "base", synth.Options{ReadPercent: 70, Throughput: 20000, Seed: 1})
	slow := writeSynth(t, dir, "slow", synth.Options{ReadPercent: 70, Throughput: 15000, Seed: 3})
	stdout, _, err := zkbench(t, "regress", "--json", "--baseline", base, slow)
	if !errors.Is(err, errRegressed) {
		t.Fatalf("25%% slower: err %v, want errRegressed", err)
	}
	var got struct {
		Regressed bool `json:"regressed"`
		BaseRuns  int  `json:"base_runs"`
		Metrics   []struct {
			Name   string  `json:"name"`
			Delta  float64 `json:"delta"`
			P      float64 `json:"p"`
			Worse  bool    `json:"worse"`
			BaseCI struct {
				Median, Lo, Hi *float64
			} `json:"base_ci"`
		} `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if !got.Regressed || got.BaseRuns != 1 || len(got.Metrics) == 0 {
		t.Fatalf("%+v", got)
	}
	m := got.Metrics[0]
	if m.Name != "throughput" || !m.Worse || m.Delta > -0.2 || m.P >= 0.05 || m.BaseCI.Lo == nil || m.BaseCI.Hi == nil || *m.BaseCI.Lo > *m.BaseCI.Hi {
		t.Errorf("throughput: %+v", m)
	}
}

func TestReportJSON(t *testing.T) {
	dir := t.TempDir()
	sweep := filepath.Join(dir, "sweep")
	for _, reads := range []float64{0, 100} {
		r := synth.Result(synth.Options{Servers: 3, ReadPercent: reads, Throughput: 10000 + 100*reads, Duration: 2 * time.Second, Seed: 1})
		if _, err := experiment.Save(sweep, r); err != nil {
			t.Fatal(err)
		}
	}
	stdout, _, err := zkbench(t, "report", "--json", "--out", dir, "--p99", "20ms", sweep)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Dir  string `json:"dir"`
		Plan struct {
			Cells []struct {
				Impl     string  `json:"impl"`
				Servers  int     `json:"servers"`
				Capacity float64 `json:"capacity"`
			} `json:"cells"`
		} `json:"plan"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if got.Dir == "" || len(got.Plan.Cells) != 2 || got.Plan.Cells[0].Impl != "go" || got.Plan.Cells[0].Servers != 3 || got.Plan.Cells[0].Capacity <= 0 {
		t.Errorf("report --json: %+v", got)
	}
}

func TestCompareJSON(t *testing.T) {
	dir := t.TempDir()
	a := writeSynth(t, dir, "a", synth.Options{Impl: "go", ReadPercent: 70, Throughput: 20000, Seed: 1})
	b := writeSynth(t, dir, "b", synth.Options{Impl: "java", ReadPercent: 70, Throughput: 5000, Seed: 2})
	stdout, _, err := zkbench(t, "compare", "--json", "--out", dir, a, b)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Dir     string `json:"dir"`
		Results []struct {
			Label   string `json:"label"`
			Dir     string `json:"dir"`
			Summary struct {
				Throughput struct {
					Mean float64 `json:"mean"`
				} `json:"throughput"`
			} `json:"summary"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if got.Dir == "" || len(got.Results) != 2 || !strings.HasPrefix(got.Results[0].Label, "go") || got.Results[0].Dir != a ||
		got.Results[0].Summary.Throughput.Mean < 15000 || got.Results[1].Summary.Throughput.Mean > 7000 {
		t.Errorf("compare --json: %+v", got)
	}
}
