package perf

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/zkbench/zkbench/experiment"
	"github.com/zkbench/zkbench/harness"
)

// ProfileConfig is one profiled run of a Go ensemble.
type ProfileConfig struct {
	// Name names the run's files (e.g. "standalone-70r").
	Name string
	// Size is the ensemble size; ReadPercent the load's read share.
	Size        int
	ReadPercent float64
	// Load shapes the workload as in Compare (only its load fields are used).
	Load Config
	// Command starts a Go server that serves net/http/pprof and writes its
	// address to pprof.addr in its working directory (zkbench's hidden
	// internal-zkserver-pprof command).
	Command []string
	// Binary is the executable of Command, for symbolisation.
	Binary string
	// Dir receives the raw profiles and their text summaries.
	Dir string
	// Go is the go command (default "go"), for `go tool pprof`.
	Go string
}

// ProfileSummary is the text summary of one profile.
type ProfileSummary struct {
	Title string `json:"title"`
	File  string `json:"file"`
	Top   string `json:"top"`
}

// Profile runs one load on a Go ensemble started with pc.Command and
// returns the CPU profile (during the measured part), the heap in use
// (right after it, load still running) and the allocation profile (over
// the load) of the server that does most of the work: the standalone
// server or the leader, and for ensembles one follower too.
func Profile(ctx context.Context, pc ProfileConfig) ([]ProfileSummary, error) {
	c := pc.Load
	c.GoCommand = pc.Command
	if err := c.withDefaults(); err != nil {
		return nil, err
	}
	if pc.Go == "" {
		pc.Go = "go"
	}
	if err := os.MkdirAll(pc.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("perf: %w", err)
	}
	spec, err := c.spec(pc.ReadPercent, 0)
	if err != nil {
		return nil, err
	}
	// The profiles are timed from a fixed warm-up; the Go server has no
	// JIT to wait for.
	if spec.WarmupMax > 0 {
		spec.Warmup, spec.WarmupMax = max(spec.Warmup, 2*time.Second), 0
	}
	ho := harness.Options{Impl: harness.ImplGo, Servers: pc.Size, GoCommand: pc.Command, ServerCPUs: c.ServerCPUs, Logger: c.Logger}
	ens, closeEns, err := experiment.StartEnsemble(ctx, ho)
	if err != nil {
		return nil, err
	}
	defer closeEns()
	type target struct{ role, addr string }
	var targets []target
	leader, _ := ens.Leader()
	// The standalone server or the leader first, then one follower.
	members := ens.Members()
	for _, pass := range []bool{true, false} {
		for _, m := range members {
			if (m.ID == leader || pc.Size == 1) != pass {
				continue
			}
			b, err := os.ReadFile(filepath.Join(ens.RunDir(), fmt.Sprintf("server-%d", m.ID), "pprof.addr"))
			if err != nil {
				return nil, fmt.Errorf("perf: server %d has no pprof address (does the command serve pprof, as zkbench internal-zkserver-pprof?): %w", m.ID, err)
			}
			targets = append(targets, target{string(m.Role), string(b)})
			break
		}
	}
	var out []ProfileSummary
	before := make([][]byte, len(targets))
	for i, t := range targets {
		if before[i], err = fetch(ctx, "http://"+t.addr+"/debug/pprof/allocs"); err != nil {
			return nil, err
		}
	}
	cpu := make([][]byte, len(targets))
	cpuErr := make([]error, len(targets))
	// The heap in use (as of the last GC) is taken while the load still
	// runs, right after the CPU profile: what a server holds under load.
	heap := make([][]byte, len(targets))
	heapErr := make([]error, len(targets))
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Setup of the key space and the warm-up come first.
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second + spec.Warmup):
		}
		secs := max(1, int((c.Duration-time.Second)/time.Second))
		errs := make(chan struct{}, len(targets))
		for i, t := range targets {
			go func() {
				cpu[i], cpuErr[i] = fetch(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", t.addr, secs))
				heap[i], heapErr[i] = fetch(ctx, "http://"+t.addr+"/debug/pprof/heap")
				errs <- struct{}{}
			}()
		}
		for range targets {
			<-errs
		}
	}()
	res, err := experiment.Load(ctx, ens, experiment.Config{Spec: spec, Harness: ho, Logger: c.Logger})
	<-done
	if err != nil {
		return nil, err
	}
	_ = res
	for i, t := range targets {
		after, err := fetch(ctx, "http://"+t.addr+"/debug/pprof/allocs")
		if err != nil {
			return nil, err
		}
		base := fmt.Sprintf("%s-%s", pc.Name, t.role)
		files := map[string][]byte{base + ".cpu.pprof": cpu[i], base + ".allocs-before.pprof": before[i], base + ".allocs.pprof": after}
		if heapErr[i] == nil {
			files[base+".heap.pprof"] = heap[i]
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(pc.Dir, name), b, 0o644); err != nil {
				return nil, fmt.Errorf("perf: %w", err)
			}
		}
		if cpuErr[i] == nil {
			top, err := pprofTop(ctx, pc.Go, "-top", "-nodecount=30", pc.Binary, filepath.Join(pc.Dir, base+".cpu.pprof"))
			if err != nil {
				return nil, err
			}
			out = append(out, ProfileSummary{Title: fmt.Sprintf("CPU, %s (%d servers, %g%% reads)", t.role, pc.Size, pc.ReadPercent), File: base + ".cpu.pprof", Top: top})
		}
		if heapErr[i] == nil {
			top, err := pprofTop(ctx, pc.Go, "-top", "-nodecount=25", "-sample_index=inuse_space", pc.Binary, filepath.Join(pc.Dir, base+".heap.pprof"))
			if err != nil {
				return nil, err
			}
			out = append(out, ProfileSummary{Title: fmt.Sprintf("heap in use under load, %s (%d servers, %g%% reads)", t.role, pc.Size, pc.ReadPercent), File: base + ".heap.pprof", Top: top})
		}
		top, err := pprofTop(ctx, pc.Go, "-top", "-nodecount=25", "-sample_index=alloc_space",
			"-base", filepath.Join(pc.Dir, base+".allocs-before.pprof"), pc.Binary, filepath.Join(pc.Dir, base+".allocs.pprof"))
		if err != nil {
			return nil, err
		}
		out = append(out, ProfileSummary{Title: fmt.Sprintf("allocated bytes over the load, %s (%d servers, %g%% reads)", t.role, pc.Size, pc.ReadPercent), File: base + ".allocs.pprof", Top: top})
	}
	for _, p := range out {
		name := strings.TrimSuffix(p.File, ".pprof") + ".top.txt"
		if err := os.WriteFile(filepath.Join(pc.Dir, name), []byte(p.Top), 0o644); err != nil {
			return nil, fmt.Errorf("perf: %w", err)
		}
	}
	return out, nil
}

// fetch GETs url.
func fetch(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("perf: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("perf: fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("perf: fetch %s: status %s: %v", url, resp.Status, err)
	}
	return b, nil
}

// pprofTop runs go tool pprof with args and returns its output.
func pprofTop(ctx context.Context, goCmd string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, goCmd, append([]string{"tool", "pprof"}, args...)...)
	b, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("perf: go tool pprof %v: %w: %s", args, err, b)
	}
	return string(b), nil
}
