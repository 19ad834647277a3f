package fleet

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/bench"
	"github.com/zkbench/zkbench/workloads"
)

// An automatic warm-up ends when one driver sees steady throughput; the
// agents share the sessions, so the coordinator refuses it before it
// contacts anyone.
func TestDriveRefusesAutomaticWarmup(t *testing.T) {
	spec := workloads.Default()
	spec.Duration, spec.WarmupMax = time.Second, 30*time.Second
	_, err := (&Coordinator{}).Drive(context.Background(), bench.Options{Spec: spec})
	if err == nil || !strings.Contains(err.Error(), "--warmup auto") {
		t.Errorf("Drive with an automatic warm-up: %v, want it refused", err)
	}
}
