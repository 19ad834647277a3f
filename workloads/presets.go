package workloads

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// ErrUnknownPreset is returned by Preset for a name it does not know.
var ErrUnknownPreset = fmt.Errorf("workloads: unknown preset")

var presets = map[string]func() Spec{
	// readratio is one point of the read/write-ratio sweep (ZooKeeper
	// overview, "throughput as the read/write ratio varies"): 1 KiB getData
	// and setData, closed-loop saturation with 100 outstanding requests per
	// client as GenerateLoad kept. The sweep sets ReadPercent per point.
	"readratio": func() Spec {
		s := Default()
		s.Name = "readratio"
		s.ReadPercent = 100
		s.Clients = 60
		s.Keys = 1000
		s.Warmup = 5 * time.Second
		s.Duration = 30 * time.Second
		return s
	},
	// reliability is the load of the "reliability in the presence of
	// errors" graph: 30 % writes at saturation. The reliability experiment
	// stretches Duration to cover its fault schedule.
	"reliability": func() Spec {
		s := Default()
		s.Name = "reliability"
		s.ReadPercent = 70
		s.Clients = 60
		s.Keys = 1000
		s.Warmup = 5 * time.Second
		s.Duration = 120 * time.Second
		return s
	},
	// smoke is a few seconds of every operation type from two clients:
	// enough to show that a server and the driver work together.
	"smoke": func() Spec {
		s := Default()
		s.Name = "smoke"
		s.SetMix([]OpWeight{
			{GetData, 40}, {SetData, 20}, {Exists, 10},
			{GetChildren, 10}, {CreateDelete, 10}, {Multi, 10},
		})
		s.Clients = 2
		s.Outstanding = 4
		s.Keys = 100
		s.Warmup = 200 * time.Millisecond
		s.Duration = 2 * time.Second
		return s
	},
}

// PresetNames lists the presets in alphabetical order.
func PresetNames() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Preset returns a fresh copy of the named preset.
func Preset(name string) (Spec, error) {
	f, ok := presets[name]
	if !ok {
		return Spec{}, fmt.Errorf("%w %q (have %s)", ErrUnknownPreset, name, strings.Join(PresetNames(), ", "))
	}
	return f(), nil
}

// ReadRatioSweep returns one spec per read percentage, each base with
// ReadPercent set, its Mix cleared (reads are getData, writes setData) and
// its Name "readratio-<percent>". With no percentages it uses 0, 10, ...,
// 100, the x-axis of ZooKeeper's published graph. Every spec keeps base's
// seed, so the points of a sweep are repeatable one by one.
func ReadRatioSweep(base Spec, percents ...float64) []Spec {
	if len(percents) == 0 {
		for p := 0; p <= 100; p += 10 {
			percents = append(percents, float64(p))
		}
	}
	out := make([]Spec, 0, len(percents))
	for _, p := range percents {
		s := base
		s.Mix = nil
		s.ReadPercent = p
		s.Name = fmt.Sprintf("readratio-%g", p)
		out = append(out, s)
	}
	return out
}
