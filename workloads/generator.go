package workloads

import (
	"math"
	"math/rand/v2"
	"sort"
)

// Source holds what every client's generator shares (the mix thresholds and,
// for Zipfian keys, the cumulative distribution), so that starting a
// thousand generators does not recompute it a thousand times.
type Source struct {
	spec    Spec
	ops     []OpType
	cum     []float64 // cumulative weights, normalised to end at 1
	zipfCDF []float64 // nil for uniform
}

// NewSource validates s and prepares its generators.
func NewSource(s Spec) (*Source, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	src := &Source{spec: s}
	mix := s.EffectiveMix()
	var total float64
	for _, w := range mix {
		total += w.Weight
	}
	var acc float64
	for _, w := range mix {
		acc += w.Weight
		src.ops = append(src.ops, w.Op)
		src.cum = append(src.cum, acc/total)
	}
	src.cum[len(src.cum)-1] = 1
	if s.KeyDist == Zipfian {
		src.zipfCDF = make([]float64, s.Keys)
		var sum float64
		for i := range s.Keys {
			sum += math.Pow(float64(i+1), -s.ZipfS)
			src.zipfCDF[i] = sum
		}
		for i := range src.zipfCDF {
			src.zipfCDF[i] /= sum
		}
		src.zipfCDF[s.Keys-1] = 1
	}
	return src, nil
}

// Spec returns the spec the source was made from.
func (src *Source) Spec() Spec { return src.spec }

// Generator returns client's operation stream (client counts from 0). Its
// sequence depends only on the spec (seed, mix, keys, distribution) and the
// client index. A Generator is not safe for concurrent use.
func (src *Source) Generator(client int) *Generator {
	return &Generator{
		src: src,
		// PCG's two words: the seed selects the experiment, the client its
		// stream.
		rng: rand.New(rand.NewPCG(uint64(src.spec.Seed), 0x9e3779b97f4a7c15^uint64(client))),
	}
}

// Generator returns the deterministic operation stream of spec s for one
// client. It panics if s is invalid; use NewSource to get the error, and to
// share set-up between many clients.
func (s Spec) Generator(client int) *Generator {
	src, err := NewSource(s)
	if err != nil {
		panic(err)
	}
	return src.Generator(client)
}

// Generator yields one client's operations. Next does not allocate.
type Generator struct {
	src *Source
	rng *rand.Rand
	seq int64
}

// Next returns the next operation.
func (g *Generator) Next() Op {
	src := g.src
	op := Op{Seq: g.seq}
	g.seq++
	u := g.rng.Float64()
	i := 0
	for i < len(src.cum)-1 && u >= src.cum[i] {
		i++
	}
	op.Type = src.ops[i]
	if src.zipfCDF == nil {
		op.Key = g.rng.IntN(src.spec.Keys)
	} else {
		u := g.rng.Float64()
		op.Key = sort.SearchFloat64s(src.zipfCDF, u)
		if u == src.zipfCDF[op.Key] && op.Key < len(src.zipfCDF)-1 {
			op.Key++ // SearchFloat64s finds the first cdf >= u; we want > u
		}
	}
	return op
}
