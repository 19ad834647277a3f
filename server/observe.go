package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/zkbench/zkbench/server/admin"
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
// server, as upstream's provider failing to start does) and the
// AdminServer (a bind failure is logged and the server runs without it, as
// upstream's), and returns what serves them, to run beside the server's
// other parts. leader is the ensemble member's current leader (nil on a
// standalone server).
func observers(cfg *config.Config, m *metrics.Server, srv *clientconn.Server, leader func() int64, log *slog.Logger) ([]func(context.Context) error, error) {
	var parts []func(context.Context) error
	if m != nil {
		mc := cfg.Metrics()
		l, err := net.Listen("tcp", net.JoinHostPort(mc.Host, strconv.Itoa(mc.Port)))
		if err != nil {
			return nil, fmt.Errorf("server: Prometheus metrics endpoint (metricsProvider.httpHost/httpPort): %w", err)
		}
		parts = append(parts, func(ctx context.Context) error { return m.Serve(ctx, l, log) })
	}
	if ac := cfg.Admin(); ac.Enabled {
		addr := net.JoinHostPort(ac.Address, strconv.Itoa(ac.Port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			log.Warn("problem starting the AdminServer; serving without it (admin.enableServer=false turns it off)", "addr", addr, "err", err)
			return parts, nil
		}
		log.Info("AdminServer started", "addr", l.Addr().String(), "commandURL", ac.CommandURL)
		o := admin.Options{Server: srv, Config: cfg, Leader: leader, Logger: log}
		parts = append(parts, func(ctx context.Context) error {
			// The AdminServer failing later does not stop the server.
			if err := admin.Serve(ctx, l, ac.CommandURL, o); err != nil {
				log.Error("AdminServer stopped", "err", err)
			}
			<-ctx.Done()
			return nil
		})
	}
	return parts, nil
}
