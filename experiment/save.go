package experiment

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	gplot "gonum.org/v1/plot"

	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/results/plot"
	"github.com/zkbench/zkbench/results/report"
)

// Files a run directory holds besides the result files.
const (
	ReportFile     = "report.md"
	ThroughputPlot = "throughput"       // .png and .svg
	SpectrumPlot   = "latency-spectrum" // .png and .svg
	LatencyPlot    = "latency"          // .png and .svg
	ReadRatioPlot  = "readratio"        // .png and .svg, of a sweep
	ServersPlot    = "servers"          // .png and .svg: throughput, queues and fsync per server
)

// DirName names a run directory after what it measured:
// "2026-11-22T0630-go-7srv-30w", with "-<rate>ops" for an open-loop run,
// "-tls" for a TLS run, "-sasl" for a SASL run and "-<schedule>" when faults were injected.
func DirName(r *results.Result) string {
	name := fmt.Sprintf("%s-%s-%dsrv-%sw", r.Start.UTC().Format("2006-01-02T1504"),
		orUnknown(r.Ensemble.Implementation), r.Ensemble.Size, strconv.FormatFloat(r.Spec.WritePercent(), 'f', -1, 64))
	if r.Spec.Rate > 0 {
		name += "-" + strconv.FormatFloat(r.Spec.Rate, 'f', -1, 64) + "ops"
	}
	if r.Ensemble.Config["tls"] != "" {
		name += "-tls"
	}
	if r.Ensemble.Config["sasl"] != "" {
		name += "-sasl"
	}
	if f := r.Ensemble.Config["faults"]; f != "" {
		name += "-" + sanitize(f)
	}
	return name
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func sanitize(s string) string {
	s = strings.TrimSuffix(filepath.Base(s), filepath.Ext(s))
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// NewDir creates a fresh directory root/name, adding "-2", "-3", ... when
// the name is taken, and returns its path.
func NewDir(root, name string) (string, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("experiment: %w", err)
	}
	for i := 1; i < 1000; i++ {
		dir := filepath.Join(root, name)
		if i > 1 {
			dir += "-" + strconv.Itoa(i)
		}
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("experiment: %w", err)
		}
	}
	return "", fmt.Errorf("experiment: no free directory name for %s under %s", name, root)
}

// Save writes r into a new directory under root named by DirName: the
// result files (package results), the graphs (PNG and SVG) and a Markdown
// report. It returns the directory.
func Save(root string, r *results.Result) (string, error) {
	dir, err := NewDir(root, DirName(r))
	if err != nil {
		return "", err
	}
	return dir, WriteRun(dir, r)
}

// WriteRun writes r's result files, graphs and report into dir.
func WriteRun(dir string, r *results.Result) error {
	if err := results.Write(dir, r); err != nil {
		return err
	}
	graphs, err := RunGraphs(dir, r)
	if err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, ReportFile))
	if err != nil {
		return fmt.Errorf("experiment: %w", err)
	}
	if err := report.Summary(f, r, graphs); err != nil {
		f.Close()
		return fmt.Errorf("experiment: %s: %w", f.Name(), err)
	}
	return f.Close()
}

// RunGraphs draws the graphs of one run into dir (throughput over time with
// its events, latency over time, the servers' queues and fsync time stacked
// under the throughput when the result has the servers' series, and the
// latency spectrum when it has histograms) and returns them for a report.
func RunGraphs(dir string, r *results.Result) ([]report.Graph, error) {
	run := []plot.Run{{Label: r.Ensemble.Label(), Result: r}}
	var graphs []report.Graph
	add := func(base, title string, p *gplot.Plot, err error) error {
		if err != nil {
			return err
		}
		g, err := SaveGraph(dir, base, title, p)
		if err != nil {
			return err
		}
		graphs = append(graphs, g)
		return nil
	}
	p, err := plot.Throughput(run, plot.Options{})
	if err := add(ThroughputPlot, "Throughput over time", p, err); err != nil {
		return graphs, err
	}
	p, err = plot.LatencyOverTime(run, plot.Options{})
	if err := add(LatencyPlot, "Latency over time", p, err); err != nil {
		return graphs, err
	}
	if r.Servers != nil && len(r.Servers.Samples) > 0 && len(r.Series) > 0 {
		ps, err := plot.ServerPanels(run[0], plot.Options{})
		if err != nil {
			return graphs, err
		}
		if len(ps) > 1 {
			g, err := SaveStackGraph(dir, ServersPlot, "Throughput and the servers' queues and fsync time", ps)
			if err != nil {
				return graphs, err
			}
			graphs = append(graphs, g)
		}
	}
	if plot.Merged(r) != nil {
		p, err = plot.LatencySpectrum(run, plot.Options{})
		if err := add(SpectrumPlot, "Latency by percentile", p, err); err != nil {
			return graphs, err
		}
	}
	return graphs, nil
}

// SaveGraph writes p as dir/base.png and dir/base.svg and returns it as a
// report graph (with the PNG, for embedding).
func SaveGraph(dir, base, title string, p *gplot.Plot) (report.Graph, error) {
	if _, err := plot.Save(p, filepath.Join(dir, base)); err != nil {
		return report.Graph{}, err
	}
	png, err := os.ReadFile(filepath.Join(dir, base+".png"))
	if err != nil {
		return report.Graph{}, fmt.Errorf("experiment: %w", err)
	}
	return report.Graph{Title: title, File: base + ".png", PNG: png}, nil
}

// SaveStackGraph writes plots stacked on one time axis as dir/base.png and
// dir/base.svg and returns them as a report graph.
func SaveStackGraph(dir, base, title string, ps []*gplot.Plot) (report.Graph, error) {
	if _, err := plot.SaveStack(ps, filepath.Join(dir, base)); err != nil {
		return report.Graph{}, err
	}
	png, err := os.ReadFile(filepath.Join(dir, base+".png"))
	if err != nil {
		return report.Graph{}, fmt.Errorf("experiment: %w", err)
	}
	return report.Graph{Title: title, File: base + ".png", PNG: png}, nil
}

// ReadAll reads every result under the given paths: a path is a result
// directory (holding result.json) or a directory searched recursively for
// them (a sweep). It returns the results and their directories, in path
// order and, within a tree, in lexical order.
func ReadAll(paths []string) ([]*results.Result, []string, error) {
	var rs []*results.Result
	var dirs []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("experiment: no result at %s: want a run directory (holding %s) written by zkbench: %w", p, results.JSONFile, err)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("experiment: result %s: %w", p, err)
		}
		if !st.IsDir() {
			if filepath.Base(p) != results.JSONFile {
				return nil, nil, fmt.Errorf("experiment: %s is not a result: want a run directory holding %s (or the %s itself)", p, results.JSONFile, results.JSONFile)
			}
			p = filepath.Dir(p)
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && d.Name() == results.JSONFile {
				found = append(found, filepath.Dir(path))
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("experiment: %w", err)
		}
		if len(found) == 0 {
			return nil, nil, fmt.Errorf("experiment: no result under %s: want a run directory holding %s", p, results.JSONFile)
		}
		for _, d := range found {
			r, err := results.Read(d)
			if err != nil {
				return nil, nil, fmt.Errorf("experiment: %s is not a result this zkbench can read (want a result.json written by zkbench run, schema 1..%d): %w", d, results.SchemaVersion, err)
			}
			rs = append(rs, r)
			dirs = append(dirs, d)
		}
	}
	return rs, dirs, nil
}
