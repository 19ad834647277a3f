package bench

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/internal/zktest"
	"github.com/zkbench/zkbench/workloads"
)

// The driver's SASL login (Options.SASL) against Go and Java servers set
// up by harness.SASL, with sessionRequireClientSASLAuth on so that a
// session without the login could do nothing: the run's user works, a
// wrong password gets no session.
func TestIntegration_SASL(t *testing.T) {
	for _, impl := range []string{harness.ImplGo, harness.ImplJava} {
		t.Run(impl, func(t *testing.T) {
			sa, err := harness.NewSASL(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			extra := sa.ServerConfig()
			maps.Copy(extra, map[string]string{"sessionRequireClientSASLAuth": "true"})
			o := harness.Options{Impl: impl, Servers: 1, ExtraConfig: extra, JVMFlags: sa.JVMFlags(),
				SkipWriteCheck: true} // the harness's probe has no login
			if impl == harness.ImplGo {
				o.GoCommand = []string{zktest.BuildZkserver(t), "start-foreground"}
			} else {
				zktest.RequireJava(t)
				o.JavaHeap = "256m"
			}
			e, err := harness.Start(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { e.Close() })
			var targets []Target
			for _, m := range e.Members() {
				targets = append(targets, Target{Addr: m.ClientAddr, ID: int64(m.ID), Role: string(m.Role)})
			}
			spec, _ := workloads.Preset("readratio")
			spec.Clients, spec.Keys, spec.Warmup, spec.Duration = 4, 50, 200*time.Millisecond, time.Second

			res, err := Run(context.Background(), Options{Spec: spec, Targets: targets, SASL: &SASLLogin{User: sa.User, Password: sa.Password}})
			if err != nil {
				t.Fatal(err)
			}
			if ok, failed := totalOps(res); ok == 0 || failed != 0 {
				t.Errorf("with the login: %d ok, %d failed", ok, failed)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err = Run(ctx, Options{Spec: spec, Targets: targets, ConnectTimeout: 2 * time.Second,
				SASL: &SASLLogin{User: sa.User, Password: "wrong"}})
			if err == nil {
				t.Error("a driver with a wrong password ran")
			}
			t.Logf("wrong password: %v", err)
		})
	}
}
