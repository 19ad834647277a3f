package report

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/zkbench/zkbench/results"
)

// ServerNotes says in words what the servers' own series show over the
// measured part: who led when, each server's share of time in fsync, CPU,
// queue and memory, the problems found in their logs and processes, and
// what the servers were doing during the deepest throughput dip. Nil when
// the result has no server series.
func ServerNotes(r *results.Result) []string {
	if r.Servers == nil || len(r.Servers.Samples) == 0 && len(r.Servers.Problems) == 0 {
		return nil
	}
	var out []string
	if len(r.Servers.Samples) > 0 {
		out = append(out, leaderLine(r))
	}
	for _, f := range results.ServerFiguresOf(r) {
		out = append(out, figuresLine(f))
	}
	if d := ExplainDip(r); d != "" {
		out = append(out, d)
	}
	for _, p := range r.Servers.Problems {
		out = append(out, p.String())
	}
	return out
}

func leaderLine(r *results.Result) string {
	var spans []string
	for _, s := range results.Leaders(r) {
		from, to := max(s.From, 0), min(s.To, r.Measured)
		if to <= from {
			continue
		}
		spans = append(spans, fmt.Sprintf("server %d %.1f-%.1f s", s.ID, from.Seconds(), to.Seconds()))
	}
	switch len(spans) {
	case 0:
		return "no server was seen leading"
	case 1:
		return "leader: " + spans[0]
	}
	return "leaders: " + strings.Join(spans, ", ")
}

func figuresLine(f results.ServerFigures) string {
	var roles []string
	for role, d := range f.Roles {
		if f.Covered > 0 && d > 0 {
			roles = append(roles, fmt.Sprintf("%s %.0f%%", orDash(role), 100*d.Seconds()/max(f.Covered.Seconds(), sumRoles(f).Seconds())))
		}
	}
	sort.Strings(roles)
	s := fmt.Sprintf("server %d (%s)", f.ID, strings.Join(roles, ", "))
	var parts []string
	switch {
	case !math.IsNaN(f.FsyncShare):
		p := fmt.Sprintf("%.0f%% of its time in fsync", 100*f.FsyncShare)
		if f.Fsyncs > 0 {
			p += fmt.Sprintf(" (%.0f fsyncs, mean %.2f ms)", f.Fsyncs, f.FsyncMs/f.Fsyncs)
		}
		if !math.IsNaN(f.LeaderFsyncShare) && math.Abs(f.LeaderFsyncShare-f.FsyncShare) > 0.005 {
			p += fmt.Sprintf(", %.0f%% while leading", 100*f.LeaderFsyncShare)
		}
		parts = append(parts, p)
	case !math.IsNaN(f.Fsyncs):
		parts = append(parts, fmt.Sprintf("%.0f fsyncs (their time not reported)", f.Fsyncs))
	}
	if !math.IsNaN(f.CPUCores) {
		parts = append(parts, fmt.Sprintf("%.2f cores", f.CPUCores))
	}
	if !math.IsNaN(f.PeakOutstanding) {
		parts = append(parts, fmt.Sprintf("outstanding requests up to %.0f (at %.1f s)", f.PeakOutstanding, f.PeakOutstandingAt.Seconds()))
	}
	if !math.IsNaN(f.PeakRSSKiB) && f.PeakRSSKiB > 0 {
		parts = append(parts, fmt.Sprintf("RSS up to %.0f MiB", f.PeakRSSKiB/1024))
	}
	if len(parts) == 0 {
		return s + ": no figures"
	}
	return s + ": " + strings.Join(parts, "; ")
}

func sumRoles(f results.ServerFigures) time.Duration {
	var t time.Duration
	for _, d := range f.Roles {
		t += d
	}
	return t
}

// ExplainDip finds the second of the measured part with the lowest
// throughput and, if it is under half the median, says what the servers'
// series show then: roles other than usual, a change of leader, the
// leader's share of time in fsync against its run average, queues. Empty
// when there is no such dip.
func ExplainDip(r *results.Result) string {
	if r.Servers == nil || r.Interval <= 0 {
		return ""
	}
	secs := map[int]float64{}
	lens := map[int]time.Duration{}
	for _, iv := range r.Series {
		k := int(iv.Start / time.Second)
		secs[k] += float64(iv.Ops)
		lens[k] += iv.Len
	}
	var rates []float64
	worst, worstRate := -1, math.Inf(1)
	for k, n := range secs {
		if lens[k] < time.Second*9/10 {
			continue
		}
		rate := n / lens[k].Seconds()
		rates = append(rates, rate)
		if rate < worstRate || rate == worstRate && k < worst {
			worst, worstRate = k, rate
		}
	}
	if len(rates) < 3 {
		return ""
	}
	sort.Float64s(rates)
	median := rates[len(rates)/2]
	if worstRate >= median/2 {
		return ""
	}
	from, to := time.Duration(worst)*time.Second, time.Duration(worst+1)*time.Second
	var what []string
	figs := map[int64]results.ServerFigures{}
	for _, f := range results.ServerFiguresOf(r) {
		figs[f.ID] = f
	}
	ids := make([]int64, 0, len(figs))
	for id := range figs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	// Samples overlapping the dip (one interval either side).
	slack := r.Servers.Interval
	for _, id := range ids {
		var roles []string
		var share, fsLen float64
		var peak float64 = math.NaN()
		for _, s := range r.Servers.Samples {
			if s.ID != id || s.At < from-slack || s.At > to+slack {
				continue
			}
			if len(roles) == 0 || roles[len(roles)-1] != s.Role {
				roles = append(roles, s.Role)
			}
			if !math.IsNaN(s.Outstanding) && (math.IsNaN(peak) || s.Outstanding > peak) {
				peak = s.Outstanding
			}
		}
		for _, d := range results.ServerDeltas(r)[id] {
			if d.At-d.Len < to && d.At > from && !math.IsNaN(d.FsyncMs) {
				share += d.FsyncMs
				fsLen += float64(d.Len.Milliseconds())
			}
		}
		main := figs[id].MainRole
		switch {
		case len(roles) > 1:
			what = append(what, fmt.Sprintf("server %d went %s", id, strings.Join(roles, " -> ")))
		case len(roles) == 1 && roles[0] != main:
			what = append(what, fmt.Sprintf("server %d was %s", id, orDash(roles[0])))
		}
		if fsLen > 0 {
			dip, avg := share/fsLen, figs[id].FsyncShare
			if dip > 0.2 && dip > 1.5*avg {
				what = append(what, fmt.Sprintf("server %d spent %.0f%% of it in fsync (%.0f%% over the run)", id, 100*dip, 100*avg))
			}
		}
		if !math.IsNaN(peak) && peak > 0 && peak >= figs[id].PeakOutstanding {
			what = append(what, fmt.Sprintf("server %d's queue reached %.0f", id, peak))
		}
	}
	for _, p := range r.Servers.Problems {
		if p.At >= from-slack && p.At <= to+slack {
			what = append(what, p.String())
		}
	}
	line := fmt.Sprintf("deepest dip %.0f-%.0f s (%s ops/s against a median of %s)", from.Seconds(), to.Seconds(), ops(worstRate), ops(median))
	if len(what) == 0 {
		return line + ": the servers' series show nothing unusual then"
	}
	return line + ": " + strings.Join(what, "; ")
}

// leaderFigures returns the figures of the server that led longest in r.
func leaderFigures(r *results.Result) (results.ServerFigures, bool) {
	var best results.ServerFigures
	var found bool
	for _, f := range results.ServerFiguresOf(r) {
		lead := f.Roles["leader"] + f.Roles["standalone"]
		if lead > 0 && (!found || lead > best.Roles["leader"]+best.Roles["standalone"]) {
			best, found = f, true
		}
	}
	return best, found
}

// compareServers adds, when any result has server series, the rows that
// explain a difference from the servers' side (the leader's share of time
// in fsync, the servers' CPU, the largest queue), and each result's
// ServerNotes.
func compareServers(b *strings.Builder, cols []Column) {
	have := false
	for _, c := range cols {
		have = have || c.Result.Servers != nil
	}
	if !have {
		return
	}
	row := func(name string, f func(r *results.Result) string) {
		fmt.Fprintf(b, "| %s |", name)
		for _, c := range cols {
			v := "-"
			if c.Result.Servers != nil {
				v = f(c.Result)
			}
			fmt.Fprintf(b, " %s |", v)
		}
		b.WriteString("\n")
	}
	row("leader's time in fsync", func(r *results.Result) string {
		f, ok := leaderFigures(r)
		switch {
		case !ok:
			return "no leader seen"
		case !math.IsNaN(f.LeaderFsyncShare):
			return fmt.Sprintf("%.0f%% (server %d)", 100*f.LeaderFsyncShare, f.ID)
		}
		return "not reported"
	})
	row("servers' CPU (cores)", func(r *results.Result) string {
		total, n := 0.0, 0
		for _, f := range results.ServerFiguresOf(r) {
			if !math.IsNaN(f.CPUCores) {
				total += f.CPUCores
				n++
			}
		}
		if n == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", total)
	})
	row("largest queue (outstanding)", func(r *results.Result) string {
		peak := math.NaN()
		for _, f := range results.ServerFiguresOf(r) {
			if !math.IsNaN(f.PeakOutstanding) && (math.IsNaN(peak) || f.PeakOutstanding > peak) {
				peak = f.PeakOutstanding
			}
		}
		if math.IsNaN(peak) {
			return "-"
		}
		return fmt.Sprintf("%.0f", peak)
	})
	for _, c := range cols {
		notes := ServerNotes(c.Result)
		if len(notes) == 0 {
			continue
		}
		fmt.Fprintf(b, "\n## Servers: %s\n\n", c.Label)
		for _, n := range notes {
			fmt.Fprintf(b, "- %s\n", n)
		}
	}
}
