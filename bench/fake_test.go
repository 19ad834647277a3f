package bench

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/zkbench/zkbench/bench/internal/fakezk"
	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/workloads"
)

func startFake(t *testing.T, delay time.Duration) *fakezk.Server {
	t.Helper()
	s, err := fakezk.Start(fakezk.Options{Delay: delay, ValueSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func fakeSpec() workloads.Spec {
	s := workloads.Default()
	s.Name = "fake"
	s.Clients = 4
	s.Outstanding = 2
	s.Keys = 50
	s.Warmup = 200 * time.Millisecond
	s.Duration = time.Second
	return s
}

// The server answers after exactly 2 ms; the driver must report a median no
// lower than that (it cannot be faster than the server) and not much
// higher (what it adds itself is small).
func TestFakeClosedLoopLatencyIsTruthful(t *testing.T) {
	const delay = 2 * time.Millisecond
	srv := startFake(t, delay)
	spec := fakeSpec()
	spec.SetMix([]workloads.OpWeight{
		{Op: workloads.GetData, Weight: 3}, {Op: workloads.SetData, Weight: 1},
		{Op: workloads.Exists, Weight: 1}, {Op: workloads.GetChildren, Weight: 1},
		{Op: workloads.CreateDelete, Weight: 1}, {Op: workloads.Multi, Weight: 1},
	})
	var prog bytes.Buffer
	res, err := Run(context.Background(), Options{
		Spec:     spec,
		Targets:  []Target{{Addr: srv.Addr(), Role: RoleStandalone, ID: 1}},
		Progress: &prog,
		TTY:      false,
	})
	if err != nil {
		t.Fatal(err)
	}
	if prog.Len() != 0 {
		t.Errorf("progress written although not a terminal: %q", prog.String())
	}
	if res.Stop != results.StopDeadline || res.Measured != spec.Duration {
		t.Errorf("stop %q after %v", res.Stop, res.Measured)
	}
	for _, op := range []string{"getData", "setData", "exists", "getChildren", "multi"} {
		st := res.Ops[op]
		if st == nil || st.Count == 0 {
			t.Fatalf("no %s operations recorded: %+v", op, res.Ops)
		}
		if len(st.Errors) > 0 {
			t.Errorf("%s errors: %v", op, st.Errors)
		}
		// Never below the server's delay: that would be a measurement
		// error. Above it by what the driver and a busy machine add: about
		// 0.1 ms on an idle machine; the bound is loose because the test
		// machine is shared.
		p50 := st.Latency.P50
		t.Logf("%s: p50 %v p99 %v (server delay %v)", op, p50, st.Latency.P99, delay)
		if p50 < delay || p50 > 2*delay {
			t.Errorf("%s p50 %v, want within [%v, %v]", op, p50, delay, 2*delay)
		}
	}
	// createDelete is two round trips.
	if p50 := res.Ops["createDelete"].Latency.P50; p50 < 2*delay || p50 > 4*delay {
		t.Errorf("createDelete p50 %v, want about %v", p50, 2*delay)
	}
	// 8 requests in flight, each taking ~2 ms: about 4,000 ops/s; the
	// series must account for every successful operation.
	sum := results.Summarize(res)
	var seriesOps int64
	for _, iv := range res.Series {
		seriesOps += iv.Ops
	}
	if len(res.Series) != 10 {
		t.Errorf("%d intervals, want 10", len(res.Series))
	}
	if seriesOps > sum.Ops || seriesOps < sum.Ops-int64(spec.Clients*spec.Outstanding) {
		t.Errorf("series counts %d ops, totals %d", seriesOps, sum.Ops)
	}
	if sum.Throughput.Mean < 1000 || sum.Throughput.Mean > 4100 {
		t.Errorf("throughput %.0f ops/s, want at most 8 in flight / 2 ms = 4000", sum.Throughput.Mean)
	}
	var withCPU int
	for _, iv := range res.Series {
		if iv.DriverCPU > 0 {
			withCPU++
		}
		if iv.DriverCPU > float64(res.Machine.Cores) {
			t.Errorf("interval at %v: driver used %.2f cores of %d", iv.Start, iv.DriverCPU, res.Machine.Cores)
		}
	}
	if withCPU < len(res.Series)/2 {
		t.Errorf("driver CPU measured in only %d of %d intervals", withCPU, len(res.Series))
	}
	if dir := os.Getenv("ZKBENCH_KEEP_RESULT"); dir != "" {
		if err := results.Write(dir, res); err != nil {
			t.Fatal(err)
		}
	}
	if res.Driver.CPUSeconds <= 0 || res.Driver.CPUPer10kOps <= 0 {
		t.Errorf("driver CPU not measured: %+v", res.Driver)
	}
	if !strings.HasPrefix(res.Driver.Reconnect, "tight") || res.Ensemble.Members[0].Clients != spec.Clients {
		t.Errorf("driver/ensemble not recorded: %+v %+v", res.Driver, res.Ensemble)
	}
	if got := srv.Sessions(); got != int64(spec.Clients)+1 {
		t.Errorf("server saw %d sessions, want %d clients + 1 admin", got, spec.Clients)
	}
}

// In open loop a 1 s stall must show in the tail of the corrected latency;
// the naive (service-time) measurement of the same run hides it.
func TestFakeOpenLoopShowsStall(t *testing.T) {
	// A fast server (0.2 ms); 4 clients at 250 ops/s each, one request in
	// flight per client: the driver has ample slack and catches up quickly
	// after the stall. Of the 5,000 operations only the 4 in flight when
	// the stall began take ~1 s as the naive measurement sees them
	// (< 0.1 %, so below its p99.9).
	const delay = 200 * time.Microsecond
	srv := startFake(t, delay)
	spec := fakeSpec()
	spec.Clients = 4
	spec.Outstanding = 1
	spec.Mode = workloads.Open
	spec.Rate = 1000
	spec.Warmup = 200 * time.Millisecond
	spec.Duration = 5 * time.Second
	events := make(chan results.Event, 1)
	go func() {
		time.Sleep(spec.Warmup + 500*time.Millisecond)
		srv.Stall(time.Second)
		events <- results.Event{Name: "stall", Detail: "1s"}
	}()
	res, err := Run(context.Background(), Options{
		Spec:    spec,
		Targets: []Target{{Addr: srv.Addr()}},
		Events:  events,
	})
	if err != nil {
		t.Fatal(err)
	}
	st := res.Ops["getData"]
	if st == nil || st.Service == nil {
		t.Fatalf("no open-loop stats: %+v", res.Ops)
	}
	t.Logf("corrected: p50 %v p99 %v p99.9 %v max %v", st.Latency.P50, st.Latency.P99, st.Latency.P999, st.Latency.Max)
	t.Logf("naive:     p50 %v p99 %v p99.9 %v max %v", st.Service.P50, st.Service.P99, st.Service.P999, st.Service.Max)
	if st.Latency.P999 < 900*time.Millisecond {
		t.Errorf("corrected p99.9 %v: the 1 s stall is missing from the tail", st.Latency.P999)
	}
	if st.Latency.P99 < 300*time.Millisecond {
		t.Errorf("corrected p99 %v: a third of the run's operations were held up, up to 1 s", st.Latency.P99)
	}
	// On an idle machine the naive p99.9 is a few milliseconds; on a
	// machine so busy that the driver itself is delayed it grows, but stays
	// far below the corrected tail.
	if st.Service.P999 > st.Latency.P999/2 {
		t.Errorf("naive p99.9 %v vs corrected %v: expected the naive measurement to hide the stall", st.Service.P999, st.Latency.P999)
	}
	if st.Service.Max < 900*time.Millisecond {
		t.Errorf("naive max %v: the operations in flight during the stall took ~1 s", st.Service.Max)
	}
	// Roughly the target rate was issued: the operations scheduled in the
	// measured part completed (every one has a latency; none failed) or
	// are unfinished.
	total := st.Latency.Count
	for _, n := range st.Errors {
		total += n
	}
	if want := int64(spec.Rate * spec.Duration.Seconds()); total+res.Driver.Unfinished != want {
		t.Errorf("%d operations + %d unfinished in %v at %v/s, want %d", total, res.Driver.Unfinished, spec.Duration, spec.Rate, want)
	}
	if total < 4800 {
		t.Logf("only %d of 5000 scheduled operations completed: is the machine overloaded?", total)
	}
	if len(res.Events) != 1 || res.Events[0].At < 400*time.Millisecond || res.Events[0].At > time.Second {
		t.Errorf("stall event not stamped: %+v", res.Events)
	}
	// The stall shows in the series: some interval has p99 near a second.
	var worst time.Duration
	for _, iv := range res.Series {
		worst = max(worst, iv.Max)
	}
	if worst < 900*time.Millisecond {
		t.Errorf("worst interval max %v", worst)
	}
}

// Cancelling mid-run stops promptly and keeps what was measured.
func TestFakeCancelKeepsPartialResults(t *testing.T) {
	srv := startFake(t, time.Millisecond)
	spec := fakeSpec()
	spec.Duration = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel once seven intervals (700 ms) were measured, not at a time
	// fixed before Run: on a loaded machine setup can take most of that.
	var once sync.Once
	onInterval := func(idx int64, _ *hdr.Histogram) {
		if idx >= 6 {
			once.Do(cancel)
		}
	}
	t0 := time.Now()
	res, err := Run(ctx, Options{Spec: spec, Targets: []Target{{Addr: srv.Addr()}}, OnInterval: onInterval})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(t0); took > 10*time.Second {
		t.Errorf("took %v to stop", took)
	}
	if res.Stop != results.StopCancelled || res.Measured < 600*time.Millisecond || res.Measured > 2*time.Second {
		t.Errorf("stop %q measured %v", res.Stop, res.Measured)
	}
	if res.Ops["getData"] == nil || res.Ops["getData"].Count == 0 || len(res.Series) < 6 || len(res.Series) > 20 {
		t.Errorf("partial results lost: %d intervals, ops %+v", len(res.Series), res.Ops)
	}
}

func TestBadInputFailsBeforeStarting(t *testing.T) {
	srv := startFake(t, 0)
	good := Options{Spec: fakeSpec(), Targets: []Target{{Addr: srv.Addr()}}}
	cases := []struct {
		name string
		edit func(*Options)
		want error
		text string
	}{
		{"percent", func(o *Options) { o.Spec.ReadPercent = 150 }, workloads.ErrInvalidSpec, "read_percent"},
		{"clients", func(o *Options) { o.Spec.Clients = 0 }, workloads.ErrInvalidSpec, "clients"},
		{"size", func(o *Options) { o.Spec.ValueSize = -1 }, workloads.ErrInvalidSpec, "value_size"},
		{"op", func(o *Options) { o.Spec.Mix = []workloads.OpWeight{{Op: 42, Weight: 1}} }, workloads.ErrInvalidSpec, "mix[0].op"},
		{"targets", func(o *Options) { o.Targets = nil }, ErrInvalidOptions, "Targets"},
		{"placement", func(o *Options) { o.Placement = "everywhere" }, ErrInvalidOptions, "Placement"},
		{"no followers", func(o *Options) { o.Placement = Followers }, ErrInvalidOptions, "follower"},
		{"address", func(o *Options) { o.Targets = []Target{{Addr: "nohost"}} }, ErrInvalidOptions, "nohost"},
	}
	for _, c := range cases {
		o := good
		c.edit(&o)
		_, err := Run(context.Background(), o)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: want %v naming %q, got %v", c.name, c.want, c.text, err)
		}
	}
	if n := srv.Sessions(); n != 0 {
		t.Errorf("bad input opened %d sessions", n)
	}
}

func TestUnreachableFailsFast(t *testing.T) {
	// A port nothing listens on: bind and close.
	srv := startFake(t, 0)
	dead := srv.Addr()
	srv.Close()
	o := Options{Spec: fakeSpec(), Targets: []Target{{Addr: dead, Role: RoleFollower}}}
	t0 := time.Now()
	_, err := Run(context.Background(), o)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), dead) {
		t.Errorf("want ErrUnreachable naming %s, got %v", dead, err)
	}
	if took := time.Since(t0); took > 3*time.Second {
		t.Errorf("took %v to fail", took)
	}
}

func TestProgressLineOnTTY(t *testing.T) {
	srv := startFake(t, time.Millisecond)
	spec := fakeSpec()
	spec.Duration = time.Second
	var prog bytes.Buffer
	_, err := Run(context.Background(), Options{Spec: spec, Targets: []Target{{Addr: srv.Addr()}}, Progress: &prog, TTY: true, LogInterval: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	out := prog.String()
	if strings.Count(out, "\r") != 2 || !strings.Contains(out, "ops/s") || !strings.Contains(out, "p99") || !strings.HasSuffix(out, "\n") {
		t.Errorf("progress output %q", out)
	}
}

// outageGap returns the longest run of intervals without a successful
// operation.
func outageGap(res *results.Result) time.Duration {
	var gap, cur time.Duration
	for _, iv := range res.Series {
		if iv.Ops == 0 {
			cur += iv.Len
			gap = max(gap, cur)
		} else {
			cur = 0
		}
	}
	return gap
}

// The server goes away for 300 ms and comes back on the same address. With
// the tight reconnect policy clients are back within about that; with
// go-zookeeper's default policy they wait out its 1 s pause after a round
// of refused servers, and the outage looks more than three times longer
// than it was.
func TestReconnectPolicy(t *testing.T) {
	const outage = 300 * time.Millisecond
	gaps := map[string]time.Duration{}
	for _, mode := range []string{ReconnectTight, ReconnectLibrary} {
		srv := startFake(t, 100*time.Microsecond)
		addr := srv.Addr()
		spec := fakeSpec()
		spec.Warmup = 100 * time.Millisecond
		spec.Duration = 1700 * time.Millisecond
		restarted := make(chan *fakezk.Server, 1)
		go func() {
			time.Sleep(spec.Warmup + 300*time.Millisecond)
			srv.Close()
			time.Sleep(outage)
			s2, err := fakezk.Start(fakezk.Options{Addr: addr, Delay: 100 * time.Microsecond})
			if err != nil {
				t.Errorf("restart on %s: %v", addr, err)
			}
			restarted <- s2
		}()
		res, err := Run(context.Background(), Options{
			Spec: spec, Targets: []Target{{Addr: addr}}, SkipSetup: true,
			Reconnect: ReconnectPolicy{Mode: mode},
		})
		if s2 := <-restarted; s2 != nil {
			s2.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		gaps[mode] = outageGap(res)
		t.Logf("%s: throughput gap %v for a %v outage; %d reconnects; %s", mode, gaps[mode], outage, res.Driver.Reconnects, res.Driver.Reconnect)
		if res.Driver.Reconnects != int64(spec.Clients) {
			t.Errorf("%s: %d reconnects, want %d", mode, res.Driver.Reconnects, spec.Clients)
		}
		if !strings.HasPrefix(res.Driver.Reconnect, mode) {
			t.Errorf("policy recorded as %q", res.Driver.Reconnect)
		}
	}
	if g := gaps[ReconnectTight]; g < outage-100*time.Millisecond || g > outage+300*time.Millisecond {
		t.Errorf("tight policy: gap %v for a %v outage", g, outage)
	}
	// Whole empty 100 ms intervals: a 1 s pause shows as at least 800 ms.
	if g := gaps[ReconnectLibrary]; g < 800*time.Millisecond || g < 2*gaps[ReconnectTight] {
		t.Errorf("library policy: gap %v, expected its 1 s pause to show", g)
	}
}

// traceRun runs spec against a fake server answering after delay and
// returns every client session's first requests, sorted so that runs can
// be compared whatever order the sessions were opened in.
func traceRun(t *testing.T, spec workloads.Spec, delay time.Duration, n int) []string {
	t.Helper()
	srv, err := fakezk.Start(fakezk.Options{Delay: delay, Trace: n})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, err := Run(context.Background(), Options{Spec: spec, Targets: []Target{{Addr: srv.Addr()}}, SkipSetup: true}); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tr := range srv.Traces() {
		if len(tr) < n {
			t.Fatalf("a session sent only %d requests", len(tr))
		}
		// Create/delete paths name the client and slot; the sequence is
		// what is compared.
		out = append(out, strings.Join(tr, "\n"))
	}
	slices.Sort(out)
	return out
}

// The operations each client sends are fixed by the seed: a slower server
// changes how many are sent, not which.
func TestSameSeedSameOperationsWhateverTheServer(t *testing.T) {
	spec, _ := workloads.Preset("smoke")
	spec.Clients = 3
	spec.Outstanding = 1 // the server sees each client's ops in generator order
	spec.Warmup = 0
	spec.Duration = 500 * time.Millisecond
	const n = 60
	a := traceRun(t, spec, 0, n)
	b := traceRun(t, spec, 2*time.Millisecond, n)
	if len(a) != spec.Clients || !slices.Equal(a, b) {
		t.Fatalf("same seed, different operations:\n%v\n---\n%v", a, b)
	}
	spec.Seed++
	if c := traceRun(t, spec, 0, n); slices.Equal(a, c) {
		t.Fatal("different seeds sent the same operations")
	}
}

// A server that hangs (rather than dies) costs the requests in flight when
// the client gives up on it after its receive timeout (2/3 of the session
// timeout); those are counted as timeouts, not as connection losses.
func TestHungServerCountsTimeouts(t *testing.T) {
	srv := startFake(t, 100*time.Microsecond)
	spec := fakeSpec()
	spec.Warmup = 100 * time.Millisecond
	spec.Duration = 2200 * time.Millisecond
	go func() {
		time.Sleep(spec.Warmup + 300*time.Millisecond)
		srv.Stall(1500 * time.Millisecond) // longer than the 1 s receive timeout
	}()
	res, err := Run(context.Background(), Options{
		Spec: spec, Targets: []Target{{Addr: srv.Addr()}}, SkipSetup: true,
		SessionTimeout: 1500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	errs := res.Ops["getData"].Errors
	t.Logf("errors: %v, reconnects %d", errs, res.Driver.Reconnects)
	if errs[results.KindTimeout] == 0 || errs[results.KindConnectionLoss] != 0 {
		t.Errorf("errors %v: want timeouts only", errs)
	}
	if res.Driver.Reconnects == 0 {
		t.Error("clients did not reconnect after timing out")
	}
}

// An open loop that offers more than the server answers falls behind from
// the start; in the measured part it completes operations scheduled during
// warm-up. Those are its achieved throughput (not zero), and the
// operations scheduled in the measured part that it never reached are
// unfinished.
func TestFakeOpenLoopBehindReportsAchievedThroughput(t *testing.T) {
	// 4 sessions with one request each, 5 ms per request: at most 800
	// ops/s; offered 1,600. At time t each session works on the operation
	// scheduled at t/2, so the measured part [1 s, 2 s) answers only
	// operations scheduled in warm-up.
	srv := startFake(t, 5*time.Millisecond)
	spec := fakeSpec()
	spec.Clients, spec.Outstanding = 4, 1
	spec.Mode, spec.Rate = workloads.Open, 1600
	spec.Warmup, spec.Duration = time.Second, time.Second
	res, err := Run(context.Background(), Options{Spec: spec, Targets: []Target{{Addr: srv.Addr()}}})
	if err != nil {
		t.Fatal(err)
	}
	sum := results.Summarize(res)
	t.Logf("achieved %.0f ops/s, %d ops, latency count %d, unfinished %d", sum.Throughput.Mean, sum.Ops, sum.All.Count, res.Driver.Unfinished)
	if sum.Throughput.Mean < 300 || sum.Throughput.Mean > 900 {
		t.Errorf("achieved %.0f ops/s, want about the server's 800", sum.Throughput.Mean)
	}
	if f := float64(sum.Ops) / res.Measured.Seconds(); f < 300 || f > 900 {
		t.Errorf("%d operations completed in %v: %.0f ops/s, want about 800", sum.Ops, res.Measured, f)
	}
	if res.Driver.Unfinished < 1200 {
		t.Errorf("unfinished %d of the 1,600 scheduled in the measured part: the backlog is hidden", res.Driver.Unfinished)
	}
	if sum.All.Count > 400 {
		t.Errorf("%d latencies: the measured latencies are of operations scheduled in the measured part, nearly none of which ran", sum.All.Count)
	}
}
