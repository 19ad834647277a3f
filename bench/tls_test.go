package bench

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/internal/certgen"
	"github.com/zkbench/zkbench/internal/zktest"
	"github.com/zkbench/zkbench/workloads"
)

// The driver over TLS (Options.TLS) against a Go server whose client port
// takes TLS (client.portUnification): the run's certificate works, another
// CA's is refused at the handshake, so the load really went over TLS.
func TestIntegration_TLS(t *testing.T) {
	tl, err := harness.NewTLS(t.TempDir(), certgen.PKCS12)
	if err != nil {
		t.Fatal(err)
	}
	extra := tl.ServerConfig()
	maps.Copy(extra, map[string]string{"client.portUnification": "true"})
	e, err := harness.Start(context.Background(), harness.Options{Impl: harness.ImplGo, Servers: 1, ExtraConfig: extra,
		GoCommand: []string{zktest.BuildZkserver(t), "start-foreground"}})
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

	res, err := Run(context.Background(), Options{Spec: spec, Targets: targets, TLS: tl.ClientConfig()})
	if err != nil {
		t.Fatal(err)
	}
	if ok, failed := totalOps(res); ok == 0 || failed != 0 {
		t.Errorf("over TLS: %d ok, %d failed", ok, failed)
	}

	other, err := harness.NewTLS(t.TempDir(), certgen.PKCS12)
	if err != nil {
		t.Fatal(err)
	}
	stranger := other.ClientConfig()
	stranger.RootCAs = tl.ClientConfig().RootCAs
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := Run(ctx, Options{Spec: spec, Targets: targets, TLS: stranger, ConnectTimeout: 2 * time.Second}); err == nil {
		t.Error("a driver with another CA's certificate ran")
	}
}
