package bench

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/zkbench/zkbench/history"
	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/workloads"
)

// CheckOptions ask Run to record what its clients did and saw on a few keys
// and to check that history at the end (results.Result.Safety).
type CheckOptions struct {
	// Keys is how many keys are checked, spread evenly over the key space
	// (key 0 among them), but at most one in eight of the key space's keys
	// (and at least one), so that with uniform keys at most an eighth of
	// the operations is recorded; 0 checks nothing. Every operation on a
	// checked key is recorded (about 1 µs of CPU each, BenchmarkRecording,
	// against about 11 µs the driver spends per operation), so the fewer
	// keys, the cheaper the recording, and porcupine's search per key stays
	// bounded.
	Keys int
	// MaxOps bounds the operations recorded (default 300,000). A run that
	// reaches it stops recording and its verdict is Unknown: check fewer
	// keys, or a shorter run.
	MaxOps int
	// LinearizabilityTimeout bounds porcupine's search per key (default
	// 10 s); a key whose search runs out is Unknown.
	LinearizabilityTimeout time.Duration
	// FinalTimeout bounds the final read of every checked key from every
	// member, tried again until a member answers (default 30 s).
	FinalTimeout time.Duration
}

func (o CheckOptions) withDefaults() CheckOptions {
	if o.MaxOps <= 0 {
		o.MaxOps = 300_000
	}
	if o.LinearizabilityTimeout <= 0 {
		o.LinearizabilityTimeout = 10 * time.Second
	}
	if o.FinalTimeout <= 0 {
		o.FinalTimeout = 30 * time.Second
	}
	return o
}

// checker records the operations on the checked keys. Every value it
// writes starts with a tag unique to the write and a '|', so that a read
// names the write whose value it returned (decodeValue).
type checker struct {
	opts    CheckOptions
	rec     *history.Recorder
	paths   []string // the checked keys
	checked []bool   // by key index
	tag     string   // this run's prefix of every tag
	n       atomic.Int64
	full    atomic.Bool

	initialStates map[string]history.State // before the load
}

// newChecker picks the checked keys of ks; nil when o checks nothing.
func newChecker(o CheckOptions, ks *keyspace) *checker {
	if o.Keys <= 0 {
		return nil
	}
	o = o.withDefaults()
	n := min(o.Keys, max(1, len(ks.paths)/8))
	ch := &checker{
		opts:    o,
		checked: make([]bool, len(ks.paths)),
		tag:     strconv.FormatInt(time.Now().UnixNano(), 36),
	}
	for i := range n {
		k := i * len(ks.paths) / n
		ch.checked[k] = true
		ch.paths = append(ch.paths, ks.paths[k])
	}
	return ch
}

// start begins recording, with times counted from start (the start of the
// warm-up).
func (ch *checker) start(start time.Time) {
	ch.rec = history.NewRecorderClock(func() int64 { return int64(time.Since(start)) })
}

// initial reads the checked keys' state before the load, from targets.
func (ch *checker) initial(ctx context.Context, targets []Target) error {
	f, err := history.FinalCheckWith(ctx, ch.historyOptions(targets), ch.paths)
	if err != nil {
		return fmt.Errorf("bench: check: reading the checked keys before the run: %w", err)
	}
	ch.initialStates = f.Keys
	return nil
}

func (ch *checker) historyOptions(targets []Target) history.Options {
	o := history.Options{Decode: decodeValue}
	for _, t := range targets {
		o.Addrs = append(o.Addrs, t.Addr)
	}
	return o
}

// invoke records that client, in session sid, invoked op; nil once the
// recording is full.
func (ch *checker) invoke(client int, sid int64, op history.Op) *history.Pending {
	if ch.full.Load() {
		return nil
	}
	if ch.n.Add(1) > int64(ch.opts.MaxOps) {
		ch.full.Store(true)
		return nil
	}
	return ch.rec.Invoke(client, sid, op)
}

// decodeValue is the value the history records for data: the tag of the
// write that wrote it, or, for data no checked write wrote (the key
// space's initial values), its length and hash, so that any change to it
// is a value never written.
func decodeValue(data []byte) string {
	if i := bytes.IndexByte(data, '|'); i >= 0 {
		return string(data[:i])
	}
	h := fnv.New64a()
	h.Write(data)
	return fmt.Sprintf("untagged:%d:%016x", len(data), h.Sum64())
}

// tagged returns a new value for a checked write: a tag unique in the run,
// then '|', then the key space's value (so the size stays Spec.ValueSize
// unless the tag is longer).
func (w *worker) tagged() (string, []byte) {
	w.seq++
	tag := w.check.tag + "." + strconv.Itoa(w.c.id) + "." + strconv.Itoa(w.slot) + "." + strconv.FormatInt(w.seq, 10)
	w.value = append(append(w.value[:0], tag...), '|')
	if n := len(w.ks.value); n > len(w.value) {
		w.value = append(w.value, w.ks.value[len(w.value):]...)
	}
	return tag, w.value
}

// end records how an operation recorded as p ended; sid is the session it
// was issued in.
func (w *worker) end(p *history.Pending, sid int64, err error, res history.Result) {
	if p == nil {
		return
	}
	if after := w.c.conn.SessionID(); sid == 0 || after != sid {
		p.SetSession(0) // it straddled a session change
	}
	if err != nil {
		p.Fail(err, history.MaybeApplied(err))
		return
	}
	p.Return(res)
}

// checkedGet is a getData of a checked key.
func (w *worker) checkedGet(path string) error {
	sid := w.c.conn.SessionID()
	p := w.check.invoke(w.c.id, sid, history.Read(path))
	data, st, err := w.c.conn.Get(path)
	var res history.Result
	if err == nil {
		res = history.Result{Value: decodeValue(data), HasStat: true, Version: st.Version, Zxid: st.Mzxid}
	}
	w.end(p, sid, err, res)
	return err
}

// checkedSet is a setData of a checked key, with a tagged value.
func (w *worker) checkedSet(path string) error {
	tag, value := w.tagged()
	sid := w.c.conn.SessionID()
	p := w.check.invoke(w.c.id, sid, history.Write(path, tag))
	st, err := w.c.conn.Set(path, value, -1)
	var res history.Result
	if err == nil {
		res = history.Result{HasStat: true, Version: st.Version, Zxid: st.Mzxid}
	}
	w.end(p, sid, err, res)
	return err
}

// checkedMulti is a multi that sets at least one checked key: every key of
// it gets the same tagged value, and each checked one is recorded as a
// write.
func (w *worker) checkedMulti(op workloads.Op) error {
	tag, value := w.tagged()
	sid := w.c.conn.SessionID()
	type rec struct {
		i int
		p *history.Pending
	}
	var recs []rec
	for i := range w.multiRq {
		k := (op.Key + i) % len(w.ks.paths)
		w.multiRq[i].Path = w.ks.paths[k]
		w.multiRq[i].Data = value
		if w.check.checked[k] {
			recs = append(recs, rec{i, w.check.invoke(w.c.id, sid, history.Write(w.ks.paths[k], tag))})
		}
	}
	res, err := w.c.conn.Multi(w.multiOp...)
	for i := range w.multiRq {
		w.multiRq[i].Data = w.ks.value
	}
	if err == nil {
		for _, r := range res {
			if r.Error != nil {
				err = r.Error // a multi is atomic: nothing was applied
				break
			}
		}
	}
	for _, r := range recs {
		var hr history.Result
		if err == nil && r.i < len(res) && res[r.i].Stat != nil {
			st := res[r.i].Stat
			hr = history.Result{HasStat: true, Version: st.Version, Zxid: st.Mzxid}
		}
		w.end(r.p, sid, err, hr)
	}
	return err
}

// multiChecked reports whether a multi starting at key touches a checked key.
func (ch *checker) multiChecked(key, n int) bool {
	for i := range n {
		if ch.checked[(key+i)%len(ch.checked)] {
			return true
		}
	}
	return false
}

// verdict reads the final state of the checked keys from every target,
// checks the history and returns the verdict. warmup is the time from the
// recorder's zero to the start of the measured part.
func (ch *checker) verdict(ctx context.Context, targets []Target, warmup time.Duration) *results.Safety {
	h := ch.rec.History()
	h.Initial = ch.initialStates
	s := &results.Safety{Keys: ch.paths, Ops: len(h.Ops)}
	if ch.full.Load() {
		s.Verdict = results.SafetyUnknown
		s.Note = fmt.Sprintf("the recording stopped at its limit of %d operations: nothing was checked; check fewer keys or run shorter", ch.opts.MaxOps)
		return s
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ch.opts.FinalTimeout)
	defer cancel()
	// Servers restarted at the end of a schedule may still be electing:
	// read again until one answers or the time is up.
	final, err := history.FinalCheckWith(fctx, ch.historyOptions(targets), ch.paths)
	for err != nil && fctx.Err() == nil {
		select {
		case <-fctx.Done():
		case <-time.After(500 * time.Millisecond):
			final, err = history.FinalCheckWith(fctx, ch.historyOptions(targets), ch.paths)
		}
	}
	if err != nil {
		s.Note = fmt.Sprintf("no final state within %v: %v", ch.opts.FinalTimeout, err)
		final = nil
	}
	rep := history.CheckWith(h, final, history.CheckOptions{LinearizabilityTimeout: ch.opts.LinearizabilityTimeout})
	return safetyOf(s, rep, warmup)
}

// safetyOf fills s from a history report; warmup is subtracted from the
// operations' times (from the start of the warm-up) to make them offsets
// from the measured part's start.
func safetyOf(s *results.Safety, rep history.Report, warmup time.Duration) *results.Safety {
	s.Verdict = results.SafetyPass
	for _, c := range rep.Results {
		sc := results.SafetyCheck{Name: c.Name, Verdict: c.Verdict.String(), Summary: c.Summary}
		switch {
		case c.Verdict == history.Fail:
			s.Verdict = results.SafetyFail
		case c.Verdict != history.Pass && s.Verdict == results.SafetyPass:
			s.Verdict = results.SafetyUnknown
		}
		for _, f := range c.Findings {
			sf := results.SafetyFinding{Key: f.Key, Session: f.Session, Message: f.Message}
			first := true
			for _, o := range f.Ops {
				sf.Ops = append(sf.Ops, o.String())
				if o.ID < 0 || (o.Call == 0 && o.Return == 0) {
					continue // the initial or final state
				}
				from, to := time.Duration(o.Call)-warmup, time.Duration(o.End())-warmup
				if o.End() == history.Infinity {
					to = from
				}
				if first || from < sf.From {
					sf.From = from
				}
				if first || to > sf.To {
					sf.To = to
				}
				first = false
			}
			sc.Findings = append(sc.Findings, sf)
		}
		s.Checks = append(s.Checks, sc)
	}
	return s
}

// isChecked reports whether op touches a checked key, and so goes through
// the recording paths.
func (ch *checker) isChecked(op workloads.Op, multiN int) bool {
	switch op.Type {
	case workloads.GetData, workloads.SetData:
		return ch.checked[op.Key]
	case workloads.Multi:
		return ch.multiChecked(op.Key, multiN)
	}
	return false
}
