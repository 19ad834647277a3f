package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/workloads"
)

// Run applies opts.Spec to the ensemble and returns the result.
//
// Invalid options (ErrInvalidOptions, workloads.ErrInvalidSpec) and an
// unreachable ensemble (ErrUnreachable) fail before any load is applied.
// When ctx is cancelled during the run, Run stops issuing operations, waits
// for those in flight (up to DrainTimeout) and returns the partial result
// with Stop set to results.StopCancelled and a nil error; cancelled before
// the measured part starts, it returns ctx's error.
func Run(ctx context.Context, opts Options) (*results.Result, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	src, err := workloads.NewSource(opts.Spec)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if err := probe(ctx, opts.Targets, min(opts.ConnectTimeout, 2*time.Second)); err != nil {
		return nil, err
	}
	ks := newKeyspace(opts.Root, opts.Spec)
	if !opts.SkipSetup {
		t0 := time.Now()
		if err := setup(ctx, opts, ks); err != nil {
			return nil, err
		}
		log.Info("key space ready", "keys", len(ks.paths), "took", time.Since(t0))
	}
	check := newChecker(opts.Check, ks)
	if check != nil {
		if err := check.initial(ctx, opts.Targets); err != nil {
			return nil, err
		}
	}
	clients, err := connectClients(ctx, opts, src)
	defer closeClients(clients)
	if err != nil {
		return nil, err
	}
	log.Info("sessions established", "clients", len(clients))
	start := time.Now()
	if opts.Barrier != nil {
		if start, err = opts.Barrier(ctx); err != nil {
			return nil, err
		}
		t := time.NewTimer(time.Until(start))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("bench: cancelled before the start: %w", ctx.Err())
		}
	}
	return drive(ctx, opts, src, ks, clients, start, check)
}

// probe dials every target once, so that a wrong address fails at once
// with the address in the error.
func probe(ctx context.Context, targets []Target, timeout time.Duration) error {
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() {
			d := net.Dialer{Timeout: timeout}
			c, err := d.DialContext(ctx, "tcp", t.Addr)
			if err != nil {
				errs[i] = fmt.Errorf("%w: member %s (%s): %v", ErrUnreachable, t.Addr, roleOf(t), err)
				return
			}
			c.Close()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func roleOf(t Target) string {
	if t.Role == "" {
		return "role unknown"
	}
	return t.Role
}

// waitSession waits for c's first session.
func waitSession(ctx context.Context, c *client, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("%w: client %d: no session from %s within %v (is it a ZooKeeper server with quorum? Java ZooKeeper also refuses more than maxClientCnxns connections, default 60, from one address)",
			ErrUnreachable, c.id, c.primary, timeout)
	}
}

// setup creates the key space over one admin session.
func setup(ctx context.Context, opts Options, ks *keyspace) error {
	serving := opts.servingTargets()
	admin := &client{id: -1, primary: serving[0].Addr, ready: make(chan struct{})}
	conn, err := opts.dial(0, clientServers(serving, 0), opts.Logger, admin.event, nil)
	if err != nil {
		return fmt.Errorf("bench: setup: %w", err)
	}
	admin.conn = conn
	defer conn.Close()
	if err := waitSession(ctx, admin, opts.ConnectTimeout); err != nil {
		return fmt.Errorf("bench: setup: %w", err)
	}
	for _, p := range append(parents(ks.root), ks.root, ks.tmp) {
		if _, err := conn.Create(p, nil, 0, ks.acl); err != nil && err != zk.ErrNodeExists {
			return fmt.Errorf("bench: setup: create %s: %w", p, err)
		}
	}
	// Many creates in flight at once, as the clients will pipeline.
	const parallel = 64
	var next atomic.Int64
	errs := make([]error, parallel)
	var wg sync.WaitGroup
	for w := range parallel {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(len(ks.paths)) {
					return
				}
				p := ks.paths[i]
				_, err := conn.Create(p, ks.value, 0, ks.acl)
				if err == zk.ErrNodeExists {
					_, err = conn.Set(p, ks.value, -1) // a previous run may have used another size
				}
				if err != nil {
					errs[w] = fmt.Errorf("bench: setup: %s: %w", p, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// parents returns the ancestors of a path, shallowest first ("/a/b/c" →
// "/a", "/a/b").
func parents(p string) []string {
	var out []string
	for i := 1; i < len(p); i++ {
		if p[i] == '/' {
			out = append(out, p[:i])
		}
	}
	return out
}

// connectClients opens every client's session and waits for all of them.
func connectClients(ctx context.Context, opts Options, src *workloads.Source) ([]*client, error) {
	serving := opts.servingTargets()
	sr := opts.sessions()
	clients := make([]*client, 0, sr.Count)
	for i := sr.First; i < sr.First+sr.Count; i++ {
		primary := i % len(serving)
		c := &client{id: i, primary: serving[primary].Addr, ready: make(chan struct{}), gen: src.Generator(i)}
		conn, err := opts.dial(i, clientServers(serving, primary), opts.Logger.With("client", i), c.event, c.readTimedOut)
		if err != nil {
			return clients, fmt.Errorf("bench: client %d: %w", i, err)
		}
		c.conn = conn
		clients = append(clients, c)
	}
	deadline := time.Now().Add(opts.ConnectTimeout)
	for _, c := range clients {
		if err := waitSession(ctx, c, time.Until(deadline)); err != nil {
			return clients, err
		}
	}
	return clients, nil
}

// closeClients closes every session, in parallel (each close waits for the
// server's reply).
func closeClients(clients []*client) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, c := range clients {
		if c.conn == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			c.conn.Close()
			<-sem
		})
	}
	wg.Wait()
}

// run is the state of one measured run.
type run struct {
	opts     Options
	spec     workloads.Spec
	rec      atomic.Pointer[recorder] // nil during an automatic warm-up
	warmOps  atomic.Int64             // operations completed while rec is nil
	issued   atomic.Int64             // open-loop operations issued since the start
	runStart time.Time                // start of warm-up
	deadline time.Time                // no operation is scheduled from then on
	stopCh   chan struct{}
	stopped  atomic.Bool
	stopOnce sync.Once
}

func (r *run) stop() {
	r.stopOnce.Do(func() {
		r.stopped.Store(true)
		close(r.stopCh)
	})
}

// sleep waits d or until the run stops; it reports whether to go on.
func (r *run) sleep(t *time.Timer, d time.Duration) bool {
	t.Reset(d)
	select {
	case <-t.C:
		return !r.stopped.Load()
	case <-r.stopCh:
		return false
	}
}

func (r *run) closedLoop(w *worker) {
	c := w.c
	shard := c.id % numShards
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for !r.stopped.Load() {
		op, _ := c.next()
		if r.opts.Trace != nil {
			r.opts.Trace(c.id, op)
		}
		sent := time.Now()
		err := c.explain(w.do(op), sent)
		done := time.Now()
		r.record(shard, op.Type, sent, sent, done, err)
		if err != nil && backoffKind(classify(err)) && !r.sleep(t, pause) {
			return
		}
	}
}

func (r *run) openLoop(w *worker) {
	c := w.c
	shard := c.id % numShards
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for !r.stopped.Load() {
		op, k := c.next()
		intended := r.runStart.Add(r.spec.IntendedStart(c.id, k))
		if !intended.Before(r.deadline) {
			return
		}
		if d := time.Until(intended); d > 0 && !r.sleep(t, d) {
			return
		}
		if r.opts.Trace != nil {
			r.opts.Trace(c.id, op)
		}
		r.issued.Add(1)
		sent := time.Now()
		err := c.explain(w.do(op), sent)
		done := time.Now()
		r.record(shard, op.Type, intended, sent, done, err)
	}
}

// drive runs warm-up (from start) and measured part on connected clients.
func drive(ctx context.Context, opts Options, src *workloads.Source, ks *keyspace, clients []*client, start time.Time, check *checker) (*results.Result, error) {
	spec := opts.Spec
	log := opts.Logger
	r := &run{opts: opts, spec: spec, stopCh: make(chan struct{})}
	r.runStart = start
	mStart := r.runStart.Add(spec.Warmup)
	auto := spec.WarmupMax > 0
	shared := auto && opts.SharedWarmup != nil
	if shared {
		// The measured part starts when a coordinator says, by
		// WarmupMax and its lag (bounded by sharedWarmUp).
		r.deadline = r.runStart.Add(spec.WarmupMax + 30*time.Second + spec.Duration)
	} else if auto {
		r.deadline = r.runStart.Add(spec.WarmupMax + opts.Interval + spec.Duration)
	} else {
		r.deadline = mStart.Add(spec.Duration)
		r.rec.Store(newRecorder(mStart, spec.Duration, opts.Interval, spec.Mode == workloads.Open))
	}

	if check != nil {
		check.start(r.runStart)
	}
	var workers sync.WaitGroup
	for _, c := range clients {
		for slot := range spec.Outstanding {
			w := newWorker(c, ks, slot, check)
			if spec.Mode == workloads.Open {
				workers.Go(func() { r.openLoop(w) })
			} else {
				workers.Go(func() { r.closedLoop(w) })
			}
		}
	}

	var wu *results.Warmup
	var events []results.Event
	var lateBy time.Duration // a shared warm-up's start arrived this late
	evc := opts.Events
	if auto {
		rule := defaultSteady
		if opts.steady != nil {
			rule = *opts.steady
		}
		var err error
		if shared {
			mStart, events, err = r.sharedWarmUp(ctx, opts.SharedWarmup, &evc)
		} else {
			mStart, wu, events, err = r.warmUp(ctx, rule, &evc)
		}
		if err != nil {
			r.stop()
			drain(&workers, clients, opts.DrainTimeout, log)
			return nil, fmt.Errorf("bench: cancelled during warm-up: %w", err)
		}
		r.rec.Store(newRecorder(mStart, spec.Duration, opts.Interval, spec.Mode == workloads.Open))
		if late := time.Since(mStart); shared && late > 0 {
			lateBy = late
		}
	}
	rec := r.rec.Load()
	if opts.OnMeasure != nil {
		opts.OnMeasure(mStart)
	}

	col := newCollector(rec, int64(opts.LogInterval/opts.Interval))
	col.onInterval = opts.OnInterval
	maxIntervals := int64((spec.Duration + opts.Interval - 1) / opts.Interval)
	prog := progress{w: opts.Progress, tty: opts.TTY}
	col.onLogHist = prog.update
	colDone := make(chan struct{})
	colStop := make(chan struct{})
	go func() {
		defer close(colDone)
		tick := time.NewTicker(opts.Interval)
		defer tick.Stop()
		for {
			select {
			case <-colStop:
				return
			case ev, ok := <-evc:
				if !ok {
					evc = nil // closed: stop listening
					continue
				}
				ev.At = time.Since(mStart)
				events = append(events, ev)
				log.Info("event", "name", ev.Name, "detail", ev.Detail, "at", ev.At)
			case now := <-tick.C:
				if r.stopped.Load() {
					continue // the final sweep, after the drain, ends the series
				}
				col.markCPU(now, cpuTime())
				// One interval of grace for records racing the sweep.
				upTo := min(int64(now.Sub(mStart)/opts.Interval)-1, maxIntervals)
				if upTo > col.next {
					col.sweep(upTo)
				}
			}
		}
	}()

	// Stop at the deadline or on cancel; measure the driver's CPU over the
	// measured part meanwhile.
	deadline := time.NewTimer(time.Until(mStart.Add(spec.Duration)))
	defer deadline.Stop()
	warm := time.NewTimer(time.Until(mStart))
	defer warm.Stop()
	var cpu0 time.Duration
	var sched0 *metrics.Float64Histogram
	var busy0, total0 uint64
	var haveTicks, measuring bool
	stop := results.StopDeadline
wait:
	for {
		select {
		case <-warm.C:
			cpu0 = cpuTime()
			busy0, total0, haveTicks = machineTicks()
			sched0 = schedSnapshot()
			measuring = true
			log.Info("warm-up over, measuring", "duration", spec.Duration)
		case <-deadline.C:
			if !measuring { // both timers fired before this goroutine ran
				cpu0 = cpuTime()
				busy0, total0, haveTicks = machineTicks()
				sched0 = schedSnapshot()
				measuring = true
			}
			break wait
		case <-ctx.Done():
			stop = results.StopCancelled
			break wait
		}
	}
	stopAt := time.Now()
	cpu1 := cpuTime()
	busy1, total1, haveTicks1 := machineTicks()
	sched1 := schedSnapshot()
	r.stop()
	if !measuring {
		drain(&workers, clients, opts.DrainTimeout, log)
		close(colStop)
		<-colDone
		return nil, fmt.Errorf("bench: cancelled during warm-up: %w", ctx.Err())
	}

	drain(&workers, clients, opts.DrainTimeout, log)
	close(colStop)
	<-colDone
	measured := min(stopAt.Sub(mStart), spec.Duration)
	col.seriesEnd = measured
	nIntervals := int64((measured + opts.Interval - 1) / opts.Interval)
	col.markCPU(stopAt, cpu1)
	col.sweep(nIntervals)
	col.flushLog(nIntervals)
	prog.finish()

	res := &results.Result{
		Schema:   results.SchemaVersion,
		Spec:     spec,
		Ensemble: ensemble(opts, clients),
		Machine:  machineInfo(),
		Build:    buildInfo(opts.Revision),
		Start:    mStart,
		Measured: measured,
		Warmup:   wu,
		Stop:     stop,
		Interval: opts.Interval,
		Series:   col.series,
		Events:   events,

		IntervalLatency: col.logs,
	}
	rec.totals(res)
	var completed int64
	for _, st := range res.Ops {
		completed += st.Count
		for _, n := range st.Errors {
			completed += n
		}
	}
	d := results.Driver{
		Placement:      opts.Placement,
		Reconnect:      opts.Reconnect.String(),
		SessionTimeout: opts.SessionTimeout,
		Client:         clientVersion(),
		GOMAXPROCS:     runtime.GOMAXPROCS(0),
		CPUSeconds:     (cpu1 - cpu0).Seconds(),
		MachineBusy:    -1,
		SchedP99:       schedQuantile(sched0, sched1, 0.99),
	}
	if measured > 0 {
		d.CPUCores = d.CPUSeconds / measured.Seconds()
	}
	if completed > 0 {
		d.CPUPer10kOps = d.CPUSeconds / float64(completed) * 1e4
	}
	if haveTicks && haveTicks1 && total1 > total0 {
		d.MachineBusy = float64(busy1-busy0) / float64(total1-total0)
	}
	if spec.Mode == workloads.Open {
		d.Unfinished = scheduled(spec, opts.sessions(), mStart.Sub(r.runStart), mStart.Sub(r.runStart)+measured) - rec.finished()
	}
	for _, c := range clients {
		if n := c.sessions.Load(); n > 1 {
			d.Reconnects += n - 1
		}
		d.Expirations += c.expirations.Load()
	}
	res.Driver = d
	res.Warnings = warnings(d, res.Machine.Cores, results.Summarize(res).All.P50)
	if wu != nil && !wu.Settled {
		res.Warnings = append(res.Warnings, UnsettledWarning(wu, spec))
	}
	if lateBy > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the measured part's start reached this driver %v after it had passed: operations completed meanwhile are not counted", lateBy.Round(time.Millisecond)))
	}
	if check != nil {
		t0 := time.Now()
		res.Safety = check.verdict(ctx, opts.Targets, mStart.Sub(r.runStart))
		log.Info("history checked", "verdict", res.Safety.Verdict, "ops", res.Safety.Ops, "took", time.Since(t0))
	}
	for _, w := range res.Warnings {
		log.Warn(w)
	}
	return res, nil
}

// scheduled counts the open-loop operations of the sessions sr whose
// intended start (from the start of the warm-up) falls in [from, to).
func scheduled(spec workloads.Spec, sr SessionRange, from, to time.Duration) int64 {
	var n int64
	for c := sr.First; c < sr.First+sr.Count; c++ {
		for k := int64(0); ; k++ {
			t := spec.IntendedStart(c, k)
			if t >= to {
				break
			}
			if t >= from {
				n++
			}
		}
	}
	return n
}

// drain waits for the workers; if operations are still in flight after
// timeout it closes the sessions under them.
func drain(workers *sync.WaitGroup, clients []*client, timeout time.Duration, log *slog.Logger) {
	done := make(chan struct{})
	go func() {
		workers.Wait()
		close(done)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	}
	log.Warn("operations still in flight at the end; closing sessions under them", "waited", timeout)
	closeClients(clients)
	t.Reset(timeout)
	select {
	case <-done:
	case <-t.C:
		log.Warn("workers did not stop after their sessions closed")
	}
}

func ensemble(opts Options, clients []*client) results.Ensemble {
	e := opts.Ensemble
	if e.Size == 0 {
		e.Size = len(opts.Targets)
	}
	count := map[string]int{}
	for _, c := range clients {
		count[c.primary]++
	}
	e.Members = nil
	for _, t := range opts.Targets {
		e.Members = append(e.Members, results.Member{ID: t.ID, Addr: t.Addr, Role: t.Role, Clients: count[t.Addr]})
	}
	return e
}

// warnings flags a driver that, rather than the servers, may have set the
// pace.
func warnings(d results.Driver, cores int, p50 time.Duration) []string {
	var out []string
	if d.SchedP99 >= 200*time.Microsecond && d.SchedP99*4 >= p50 {
		out = append(out, fmt.Sprintf("driver starved of CPU: its goroutines waited up to %v (p99) for a CPU, against a median operation latency of %v; latency and throughput are partly the driver's", d.SchedP99, p50))
	}
	if d.GOMAXPROCS > 0 && d.CPUCores >= 0.9*float64(d.GOMAXPROCS) {
		out = append(out, fmt.Sprintf("driver saturated: it used %.2f of its %d cores; throughput may be the driver's limit, not the servers'", d.CPUCores, d.GOMAXPROCS))
	}
	if d.MachineBusy >= 0.95 && cores > 0 {
		out = append(out, fmt.Sprintf("machine CPU saturated (%.0f%% busy), the driver using %.2f of %d cores: servers and driver compete for CPU", 100*d.MachineBusy, d.CPUCores, cores))
	}
	return out
}
