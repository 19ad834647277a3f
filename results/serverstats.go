package results

import (
	"maps"
	"math"
	"slices"
	"sort"
	"time"
)

// ServerDelta is what one server did between two consecutive samples of the
// same process: the counters' differences, over Len ending at At.
type ServerDelta struct {
	// At is the end of the stretch (the later sample), from Result.Start.
	At time.Duration
	// Len is the stretch's length.
	Len time.Duration
	// Role is the role at its start.
	Role string
	// Fsyncs and FsyncMs are the fsyncs and their time in it (NaN when
	// not reported).
	Fsyncs, FsyncMs float64
	// CPUSeconds is the process's CPU in it (NaN when unknown).
	CPUSeconds float64
	// Outstanding is the queue at its end.
	Outstanding float64
}

// FsyncShare is the fraction of the stretch spent in fsync (NaN when not
// reported).
func (d ServerDelta) FsyncShare() float64 {
	return d.FsyncMs / float64(d.Len.Milliseconds())
}

// FsyncMean is the mean fsync time in ms (NaN when not reported or none).
func (d ServerDelta) FsyncMean() float64 {
	if d.Fsyncs <= 0 {
		return math.NaN()
	}
	return d.FsyncMs / d.Fsyncs
}

// ServerDeltas returns, per server id, the stretches between consecutive
// samples of one process (both taken while it ran), in time order.
func ServerDeltas(r *Result) map[int64][]ServerDelta {
	out := map[int64][]ServerDelta{}
	if r.Servers == nil {
		return out
	}
	for id, ss := range samplesByServer(r) {
		for i := 1; i < len(ss); i++ {
			a, b := ss[i-1], ss[i]
			if a.PID != b.PID || b.At <= a.At || (a.PID == 0 && !(a.Up && b.Up)) {
				continue
			}
			d := ServerDelta{At: b.At, Len: b.At - a.At, Role: a.Role, Outstanding: b.Outstanding}
			d.Fsyncs = b.FsyncCount - a.FsyncCount
			d.FsyncMs = b.FsyncMs - a.FsyncMs
			d.CPUSeconds = b.CPUSeconds - a.CPUSeconds
			if d.Fsyncs < 0 || d.FsyncMs < 0 { // counters reset
				d.Fsyncs, d.FsyncMs = math.NaN(), math.NaN()
			}
			if d.CPUSeconds < 0 {
				d.CPUSeconds = math.NaN()
			}
			out[id] = append(out[id], d)
		}
	}
	return out
}

func samplesByServer(r *Result) map[int64][]ServerSample {
	by := map[int64][]ServerSample{}
	for _, s := range r.Servers.Samples {
		by[s.ID] = append(by[s.ID], s)
	}
	for _, ss := range by {
		sort.SliceStable(ss, func(i, j int) bool { return ss[i].At < ss[j].At })
	}
	return by
}

// ServerFigures summarise one server over the measured part.
type ServerFigures struct {
	ID int64
	// Roles is the time spent in each role (as sampled); MainRole the one
	// held longest.
	Roles    map[string]time.Duration
	MainRole string
	// Covered is the time the figures below cover.
	Covered time.Duration
	// Fsyncs, FsyncMs: fsyncs and their time (NaN when not reported);
	// FsyncShare is FsyncMs over the time covered where it was reported.
	Fsyncs, FsyncMs, FsyncShare float64
	// LeaderFsyncShare is FsyncShare over the stretches it led (NaN if it
	// never led, or no fsync time).
	LeaderFsyncShare float64
	// CPUCores is the mean number of cores it used.
	CPUCores float64
	// PeakOutstanding is the largest queue sampled, at PeakOutstandingAt.
	PeakOutstanding   float64
	PeakOutstandingAt time.Duration
	// PeakRSSKiB is the largest resident set sampled.
	PeakRSSKiB float64
}

// inMeasured reports whether a stretch ending at at (of length l) lies in
// the measured part.
func inMeasured(r *Result, at, l time.Duration) bool {
	return at-l >= -l/2 && at <= r.Measured+l/2
}

// ServerFiguresOf summarises every sampled server over the measured part,
// by id.
func ServerFiguresOf(r *Result) []ServerFigures {
	if r.Servers == nil {
		return nil
	}
	deltas := ServerDeltas(r)
	var out []ServerFigures
	for id, ss := range samplesByServer(r) {
		f := ServerFigures{ID: id, Roles: map[string]time.Duration{}, Fsyncs: math.NaN(), FsyncMs: math.NaN(), FsyncShare: math.NaN(), LeaderFsyncShare: math.NaN(), CPUCores: math.NaN(), PeakOutstanding: math.NaN(), PeakRSSKiB: math.NaN()}
		var fsyncLen, leadLen, leadMs, cpuLen time.Duration
		var cpu float64
		for _, d := range deltas[id] {
			if !inMeasured(r, d.At, d.Len) {
				continue
			}
			f.Covered += d.Len
			f.Roles[d.Role] += d.Len
			if !math.IsNaN(d.FsyncMs) {
				f.FsyncMs = nanAdd(f.FsyncMs, d.FsyncMs)
				fsyncLen += d.Len
				if d.Role == "leader" || d.Role == "standalone" {
					leadLen += d.Len
					leadMs += time.Duration(d.FsyncMs * float64(time.Millisecond))
				}
			}
			if !math.IsNaN(d.Fsyncs) {
				f.Fsyncs = nanAdd(f.Fsyncs, d.Fsyncs)
			}
			if !math.IsNaN(d.CPUSeconds) {
				cpu += d.CPUSeconds
				cpuLen += d.Len
			}
		}
		// Roles of servers that were down (no stretches) still count.
		for i := 1; i < len(ss); i++ {
			a, b := ss[i-1], ss[i]
			if a.PID != b.PID || (a.PID == 0 && !(a.Up && b.Up)) {
				if inMeasured(r, b.At, b.At-a.At) {
					f.Roles[a.Role] += b.At - a.At
				}
			}
		}
		if fsyncLen > 0 {
			f.FsyncShare = f.FsyncMs / float64(fsyncLen.Milliseconds())
		}
		if leadLen > 0 {
			f.LeaderFsyncShare = leadMs.Seconds() / leadLen.Seconds()
		}
		if cpuLen > 0 {
			f.CPUCores = cpu / cpuLen.Seconds()
		}
		for _, s := range ss {
			if s.At < 0 || s.At > r.Measured {
				continue
			}
			if !math.IsNaN(s.Outstanding) && (math.IsNaN(f.PeakOutstanding) || s.Outstanding > f.PeakOutstanding) {
				f.PeakOutstanding, f.PeakOutstandingAt = s.Outstanding, s.At
			}
			if !math.IsNaN(s.RSSKiB) && (math.IsNaN(f.PeakRSSKiB) || s.RSSKiB > f.PeakRSSKiB) {
				f.PeakRSSKiB = s.RSSKiB
			}
		}
		var longest time.Duration
		for _, role := range slices.Sorted(maps.Keys(f.Roles)) {
			if f.Roles[role] > longest {
				f.MainRole, longest = role, f.Roles[role]
			}
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func nanAdd(a, b float64) float64 {
	if math.IsNaN(a) {
		return b
	}
	return a + b
}

// LeaderSpan is a stretch of the run during which one server led.
type LeaderSpan struct {
	ID       int64
	From, To time.Duration
}

// Leaders returns who led when, from the samples' roles (to the sampling
// interval's resolution); gaps are times nobody was seen leading.
func Leaders(r *Result) []LeaderSpan {
	if r.Servers == nil {
		return nil
	}
	var spans []LeaderSpan
	for id, ss := range samplesByServer(r) {
		for i, s := range ss {
			if s.Role != "leader" && s.Role != "standalone" {
				continue
			}
			to := s.At + r.Servers.Interval
			if i+1 < len(ss) {
				to = ss[i+1].At
			}
			if n := len(spans); n > 0 && spans[n-1].ID == id && spans[n-1].To >= s.At {
				spans[n-1].To = to
				continue
			}
			spans = append(spans, LeaderSpan{ID: id, From: s.At, To: to})
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].From < spans[j].From })
	return spans
}
