package workloads

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func ops(s Spec, client, n int) []Op {
	g := s.Generator(client)
	out := make([]Op, n)
	for i := range out {
		out[i] = g.Next()
	}
	return out
}

func TestGeneratorDeterministic(t *testing.T) {
	for _, name := range PresetNames() {
		t.Run(name, func(t *testing.T) {
			s, err := Preset(name)
			if err != nil {
				t.Fatal(err)
			}
			s.KeyDist = Zipfian
			for client := 0; client < 3; client++ {
				a, b := ops(s, client, 2000), ops(s, client, 2000)
				if !reflect.DeepEqual(a, b) {
					t.Fatalf("client %d: two generators with seed %d differ", client, s.Seed)
				}
			}
			if reflect.DeepEqual(ops(s, 0, 200), ops(s, 1, 200)) {
				t.Error("clients 0 and 1 generate the same sequence")
			}
			s2 := s
			s2.Seed++
			if reflect.DeepEqual(ops(s, 0, 200), ops(s2, 0, 200)) {
				t.Errorf("seeds %d and %d generate the same sequence", s.Seed, s2.Seed)
			}
		})
	}
}

// Generators made from one Source and from the Spec shortcut agree, and
// interleaving clients does not disturb either (no shared random state).
func TestGeneratorIndependentOfInterleaving(t *testing.T) {
	s, _ := Preset("smoke")
	src, err := NewSource(s)
	if err != nil {
		t.Fatal(err)
	}
	g0, g1 := src.Generator(0), src.Generator(1)
	var a0, a1 []Op
	for i := 0; i < 500; i++ {
		a0 = append(a0, g0.Next())
		if i%3 == 0 {
			a1 = append(a1, g1.Next())
		}
	}
	if !reflect.DeepEqual(a0, ops(s, 0, 500)) || !reflect.DeepEqual(a1, ops(s, 1, len(a1))) {
		t.Fatal("interleaved generators differ from fresh ones")
	}
}

func TestGeneratorMixAndKeys(t *testing.T) {
	s := Default()
	s.ReadPercent = 70
	s.Keys = 50
	const n = 200000
	counts := map[OpType]int{}
	keys := make([]int, s.Keys)
	for _, op := range ops(s, 7, n) {
		counts[op.Type]++
		if op.Key < 0 || op.Key >= s.Keys {
			t.Fatalf("key %d out of range", op.Key)
		}
		keys[op.Key]++
	}
	if got := float64(counts[GetData]) / n; math.Abs(got-0.7) > 0.01 {
		t.Errorf("getData share %.3f, want 0.70", got)
	}
	if counts[GetData]+counts[SetData] != n {
		t.Errorf("unexpected op types: %v", counts)
	}
	for k, c := range keys {
		if want := n / s.Keys; math.Abs(float64(c-want)) > 0.1*float64(want) {
			t.Errorf("uniform key %d chosen %d times, want about %d", k, c, want)
		}
	}
}

func TestGeneratorZipfian(t *testing.T) {
	s := Default()
	s.KeyDist = Zipfian
	s.ZipfS = 1
	s.Keys = 100
	const n = 300000
	keys := make([]float64, s.Keys)
	for _, op := range ops(s, 0, n) {
		keys[op.Key]++
	}
	var h float64
	for i := 1; i <= s.Keys; i++ {
		h += 1 / float64(i)
	}
	for _, k := range []int{0, 1, 9, 99} {
		want := n / (float64(k+1) * h)
		if math.Abs(keys[k]-want) > 0.05*want+30 {
			t.Errorf("zipfian key %d chosen %.0f times, want about %.0f", k, keys[k], want)
		}
	}
}

func TestGeneratorNextDoesNotAllocate(t *testing.T) {
	for _, dist := range []KeyDist{Uniform, Zipfian} {
		s, _ := Preset("smoke")
		s.KeyDist = dist
		g := s.Generator(0)
		if a := testing.AllocsPerRun(1000, func() { g.Next() }); a != 0 {
			t.Errorf("%s: Next allocates %.1f times per call", dist, a)
		}
	}
}

func TestIntendedStart(t *testing.T) {
	s := Default()
	s.Mode, s.Rate, s.Clients = Open, 1000, 4 // 250/s per client: 4 ms period
	if got := s.IntendedStart(0, 0); got != 0 {
		t.Errorf("client 0 op 0 at %v", got)
	}
	if got, want := s.IntendedStart(0, 10), 40*time.Millisecond; got != want {
		t.Errorf("client 0 op 10 at %v, want %v", got, want)
	}
	if got, want := s.IntendedStart(2, 1), 6*time.Millisecond; got != want {
		t.Errorf("client 2 op 1 at %v, want %v (phase of half a period)", got, want)
	}
}

func TestValidateNamesField(t *testing.T) {
	cases := []struct {
		field string
		edit  func(*Spec)
	}{
		{"read_percent", func(s *Spec) { s.ReadPercent = 120 }},
		{"read_percent", func(s *Spec) { s.ReadPercent = -1 }},
		{"clients", func(s *Spec) { s.Clients = 0 }},
		{"value_size", func(s *Spec) { s.ValueSize = -5 }},
		{"keys", func(s *Spec) { s.Keys = 0 }},
		{"outstanding", func(s *Spec) { s.Outstanding = 0 }},
		{"duration", func(s *Spec) { s.Duration = 0 }},
		{"warmup", func(s *Spec) { s.Warmup = -time.Second }},
		{"mode", func(s *Spec) { s.Mode = "sideways" }},
		{"rate", func(s *Spec) { s.Mode = Open }},
		{"rate", func(s *Spec) { s.Rate = 10 }},
		{"key_dist", func(s *Spec) { s.KeyDist = "pareto" }},
		{"zipf_s", func(s *Spec) { s.KeyDist, s.ZipfS = Zipfian, 0 }},
		{"mix[1].op", func(s *Spec) { s.SetMix([]OpWeight{{GetData, 1}, {OpType(99), 1}}) }},
		{"mix[0].weight", func(s *Spec) { s.SetMix([]OpWeight{{GetData, -1}, {SetData, 2}}) }},
		{"read_percent", func(s *Spec) { s.Mix = []OpWeight{{GetData, 1}, {SetData, 1}} }},
		{"multi_size", func(s *Spec) { s.SetMix([]OpWeight{{Multi, 1}}); s.MultiSize = 0 }},
	}
	for _, c := range cases {
		s := Default()
		c.edit(&s)
		err := s.Validate()
		if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), c.field+":") {
			t.Errorf("want an ErrInvalidSpec naming %s, got %v", c.field, err)
		}
	}
	for _, name := range PresetNames() {
		s, _ := Preset(name)
		if err := s.Validate(); err != nil {
			t.Errorf("preset %s: %v", name, err)
		}
	}
	if err := Default().Validate(); err != nil {
		t.Errorf("default: %v", err)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s, _ := Preset("smoke")
	s.KeyDist, s.ZipfS = Zipfian, 1.1
	s.Name = "123" // must stay a string through YAML
	s.Mode, s.Rate = Open, 500
	s.WarmupMax = 30 * time.Second // an automatic warm-up
	for _, name := range []string{"s.yaml", "s.json", "s.yml"} {
		p := filepath.Join(dir, name)
		if err := s.Save(p); err != nil {
			t.Fatal(err)
		}
		got, err := Load(p)
		if err != nil {
			b, _ := os.ReadFile(p)
			t.Fatalf("%s: %v\n%s", name, err, b)
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("%s: round trip changed the spec:\n got %+v\nwant %+v", name, got, s)
		}
	}
}

func TestParse(t *testing.T) {
	s, err := Parse([]byte("write_percent: 30\nclients: 7\nduration: 3s\nwarmup: 0.5\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.ReadPercent, want.Clients, want.Duration, want.Warmup = 70, 7, 3*time.Second, 500*time.Millisecond
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got %+v\nwant %+v", s, want)
	}
	s, err = Parse([]byte(`{"mix":[{"op":"exists","weight":3},{"op":"setData","weight":1}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.ReadPercent != 75 {
		t.Errorf("mix implies 75%% reads, got %v", s.ReadPercent)
	}
	bad := map[string]string{
		"read_percent: 101":                   "read_percent",
		"clients: 0":                          "clients",
		"value_size: -1":                      "value_size",
		"mix: [{op: frobnicate, weight: 1}]":  "mix[0].op",
		"read_percent: 50\nwrite_percent: 40": "write_percent",
		"duration: forever":                   "forever",
		"clinets: 3":                          "clinets",
	}
	for in, field := range bad {
		_, err := Parse([]byte(in))
		if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), field) {
			t.Errorf("%q: want an ErrInvalidSpec naming %s, got %v", in, field, err)
		}
	}
}

func TestPresetUnknown(t *testing.T) {
	if _, err := Preset("nope"); !errors.Is(err, ErrUnknownPreset) {
		t.Errorf("got %v", err)
	}
	s, err := Preset("reliability")
	if err != nil || s.WritePercent() != 30 {
		t.Errorf("reliability preset: %v, %v%% writes", err, s.WritePercent())
	}
}

func BenchmarkGeneratorNext(b *testing.B) {
	s, _ := Preset("smoke")
	s.KeyDist = Zipfian
	s.Keys = 100000
	g := s.Generator(0)
	b.ReportAllocs()
	for b.Loop() {
		g.Next()
	}
}

func TestReadRatioSweep(t *testing.T) {
	base, _ := Preset("readratio")
	sweep := ReadRatioSweep(base)
	if len(sweep) != 11 || sweep[0].ReadPercent != 0 || sweep[10].ReadPercent != 100 || sweep[7].Name != "readratio-70" {
		t.Fatalf("default sweep: %d points", len(sweep))
	}
	for _, s := range sweep {
		if err := s.Validate(); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
	}
	smoke, _ := Preset("smoke")
	pts := ReadRatioSweep(smoke, 25)
	if len(pts) != 1 || pts[0].Mix != nil || pts[0].ReadPercent != 25 || pts[0].Validate() != nil {
		t.Errorf("sweep from a mixed spec: %+v", pts)
	}
	if smoke.Mix == nil {
		t.Error("sweep changed its base")
	}
}
