package history

import (
	"context"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/zktest"
)

// checkRun reads the final state from addrs, checks h against it, and fails
// the test, naming what ran, if the history is rejected.
func checkRun(t *testing.T, h *History, addrs []string, opts Options, what string) (Report, *Final) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	final, err := FinalCheck(ctx, addrs, KeyPaths(opts.Root, opts.Keys))
	if err != nil {
		t.Fatal(err)
	}
	r := Check(h, final)
	c := h.Counts()
	t.Logf("%+v\n%s", c, r)
	if !r.OK() {
		t.Fatalf("%s: history rejected:\n%s", what, r)
	}
	return r, final
}

// lastSuccess is when, from the start of the run, the last successful
// operation returned.
func lastSuccess(h *History) time.Duration {
	var last int64
	for _, o := range h.Ops {
		if o.Outcome == OutcomeOK {
			last = max(last, o.Return)
		}
	}
	return time.Duration(last)
}

// runAndCheck drives addrs with RunClients for d and checks the history.
func runAndCheck(t *testing.T, addrs []string, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	opts := Options{Addrs: addrs, Clients: 4, Keys: 3, Seed: 1, Root: "/hist/run1"}
	h, err := RunClients(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := checkRun(t, h, addrs, opts, "a real server")
	c := h.Counts()
	if c.WritesOK < 20 || c.ReadsOK < 20 || c.SyncsOK < 5 || c.Sessions != opts.Clients {
		t.Fatalf("too little happened to judge anything: %+v", c)
	}
	if c.WritesUnknown+c.WritesFailed+c.Failed != 0 {
		t.Fatalf("operations failed against a healthy server: %+v", c)
	}
	lin, _ := r.Get(CheckLinearizable)
	if lin.Verdict != Pass {
		t.Fatalf("linearizability not decided: %v", lin)
	}
}

func TestIntegration_GoStandalone(t *testing.T) {
	s := zktest.StartGo(t)
	runAndCheck(t, []string{s.Addr}, 2*time.Second)
}

func TestIntegration_JavaStandalone(t *testing.T) {
	s := zktest.StartJava(t)
	runAndCheck(t, []string{s.Addr}, 2*time.Second)
}
