package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/zkbench/zkbench/server/clientconn"
	"github.com/zkbench/zkbench/server/config"
	"github.com/zkbench/zkbench/server/metrics"
)

// newMetrics returns the metrics zoo.cfg's provider asks for, or nil (a
// server without a provider records nothing). mntr reads the server's
// mntr figures at each scrape; it is called only once serving.
func newMetrics(cfg *config.Config, mntr func() [][2]string) *metrics.Server {
	mc := cfg.Metrics()
	if !mc.Enabled {
		return nil
	}
	return metrics.New(metrics.Options{
		Runtime: mc.ExportRuntime,
		Gauges: func() [][2]string {
			kvs := mntr()
			for i := range kvs {
				kvs[i][0] = strings.TrimPrefix(kvs[i][0], "zk_")
			}
			return kvs
		},
	})
}

// observers binds the Prometheus endpoint (a bind failure stops the
// server, as upstream's provider failing to start does) and returns what
// serves it, to run beside the server's other parts.
func observers(cfg *config.Config, m *metrics.Server, srv *clientconn.Server, log *slog.Logger) ([]func(context.Context) error, error) {
	var parts []func(context.Context) error
	if m != nil {
		mc := cfg.Metrics()
		l, err := net.Listen("tcp", net.JoinHostPort(mc.Host, strconv.Itoa(mc.Port)))
		if err != nil {
			return nil, fmt.Errorf("server: Prometheus metrics endpoint (metricsProvider.httpHost/httpPort): %w", err)
		}
		parts = append(parts, func(ctx context.Context) error { return m.Serve(ctx, l, log) })
	}
	return parts, nil
}
