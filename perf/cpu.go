package perf

import (
	"errors"
	"fmt"
	"time"
)

// errOutOfRange says a time lies outside the sampled span; extrapolating
// would attribute CPU that nobody measured.
var errOutOfRange = errors.New("outside the sampled span")

// cpuSample is the CPU time of a set of processes at one moment.
type cpuSample struct {
	at  time.Time
	sec float64 // user + system seconds
}

// cpuAt interpolates linearly the CPU seconds at t between the samples
// around it (samples in time order). A t before the first sample or after
// the last is an error (errOutOfRange), not a clamp: the sampler brackets
// every load, so such a t means the figure would be wrong.
func cpuAt(samples []cpuSample, t time.Time) (float64, error) {
	if len(samples) == 0 || t.Before(samples[0].at) || t.After(samples[len(samples)-1].at) {
		return 0, fmt.Errorf("perf: cpu at %s: %w (%d samples)", t.Format(time.RFC3339Nano), errOutOfRange, len(samples))
	}
	for i := 1; i < len(samples); i++ {
		a, b := samples[i-1], samples[i]
		if t.After(b.at) {
			continue
		}
		span := b.at.Sub(a.at)
		if span <= 0 {
			return b.sec, nil
		}
		frac := float64(t.Sub(a.at)) / float64(span)
		return a.sec + frac*(b.sec-a.sec), nil
	}
	return samples[0].sec, nil // one sample, at t exactly
}

// cpuBetween is the CPU seconds spent from start to end, interpolated.
func cpuBetween(samples []cpuSample, start, end time.Time) (float64, error) {
	a, err := cpuAt(samples, start)
	if err != nil {
		return 0, err
	}
	b, err := cpuAt(samples, end)
	if err != nil {
		return 0, err
	}
	return b - a, nil
}

// cpuSampler reads a CPU total now, every interval, and once more when
// stopped, in its own goroutine.
type cpuSampler struct {
	read    func() (float64, error)
	stopc   chan struct{}
	done    chan struct{}
	samples []cpuSample // written by the goroutine until done closes
	err     error       // the first read error, likewise
}

// startCPUSampler takes a first sample of read, so that the samples
// bracket everything after the call, and samples every interval until
// Stop.
func startCPUSampler(read func() (float64, error), every time.Duration) *cpuSampler {
	s := &cpuSampler{read: read, stopc: make(chan struct{}), done: make(chan struct{})}
	s.sample()
	go s.loop(every)
	return s
}

func (s *cpuSampler) loop(every time.Duration) {
	defer close(s.done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-s.stopc:
			s.sample()
			return
		case <-tick.C:
			s.sample()
		}
	}
}

func (s *cpuSampler) sample() {
	sec, err := s.read()
	at := time.Now()
	if err != nil {
		if s.err == nil {
			s.err = err
		}
		return
	}
	s.samples = append(s.samples, cpuSample{at: at, sec: sec})
}

// Stop takes a last sample, ends the goroutine and returns the samples
// and the first read error, if any. Call it exactly once.
func (s *cpuSampler) Stop() ([]cpuSample, error) {
	close(s.stopc)
	<-s.done
	return s.samples, s.err
}

// usPerOp is CPU seconds per operation in microseconds; 0 without ops.
func usPerOp(sec float64, ops int64) float64 {
	if ops <= 0 {
		return 0
	}
	return sec * 1e6 / float64(ops)
}
