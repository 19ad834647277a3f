package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Counter is one of upstream's counters. A nil *Counter counts nothing.
type Counter struct{ c prometheus.Counter }

// Inc adds one.
func (c *Counter) Inc() {
	if c == nil {
		return
	}
	c.c.Inc()
}

// Add adds n (n >= 0).
func (c *Counter) Add(n int64) {
	if c == nil {
		return
	}
	c.c.Add(float64(n))
}

// Server holds the metrics one server records on its hot paths, each
// under upstream's name and type (ServerMetrics.java); the table in doc.go
// lists them. The zero Server (and a nil *Server's fields, through Or)
// records nothing.
type Server struct {
	FsyncTime        *Summary // fsynctime: one fsync of the transaction log
	SnapshotTime     *Summary // snapshottime: writing one snapshot
	DBInitTime       *Summary // dbinittime: loading the snapshot and replaying the log at start
	ReadLatency      *Summary // readlatency: a read, from its arrival to its reply
	UpdateLatency    *Summary // updatelatency: a write of a local client, from its arrival to its reply
	QuorumAckLatency *Summary // quorum_ack_latency: leader, from proposing to a quorum of acks (the commit)
	ElectionTime     *Summary // election_time: from LOOKING to a decided role
	FollowerSyncTime *Summary // follower_sync_time: learner, from connecting to the leader to being in sync

	ProposalCount      *Counter // proposal_count: leader, proposals made
	CommitCount        *Counter // commit_count: leader, proposals committed
	LookingCount       *Counter // looking_count: times the server went LOOKING
	DiffCount          *Counter // diff_count: leader, learners synced by DIFF
	SnapCount          *Counter // snap_count: leader, learners synced by SNAP
	LearnerProposals   *Counter // learner_proposal_received_count
	LearnerCommits     *Counter // learner_commit_received_count
	BytesReceived      *Counter // bytes_received_count: client packets' bytes, length prefix included
	ConnectionRequests *Counter // connection_request_count: client connections accepted

	reg *prometheus.Registry
}

// Or returns m, or a Server that records nothing when m is nil.
func (m *Server) Or() *Server {
	if m == nil {
		return &Server{}
	}
	return m
}

// Options configure New.
type Options struct {
	// Gauges, if set, is called at each scrape for the figures mntr
	// reports (key without the zk_ prefix, value); the numeric ones are
	// exported as gauges under those names, as upstream registers mntr's
	// figures as gauges.
	Gauges func() [][2]string
	// Runtime adds the Go runtime's and the process's collectors
	// (metricsProvider.exportJvmInfo: there is no JVM here).
	Runtime bool
}

// New returns a Server whose metrics are registered in a registry of its
// own (no global state), ready for Handler.
func New(opts Options) *Server {
	reg := prometheus.NewRegistry()
	summary := func(name string, quantiles []float64) *Summary {
		s := newSummary(name, quantiles, time.Now)
		reg.MustRegister(s)
		return s
	}
	counter := func(name string) *Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: name})
		reg.MustRegister(c)
		return &Counter{c}
	}
	m := &Server{
		FsyncTime:        summary("fsynctime", basic),
		SnapshotTime:     summary("snapshottime", basic),
		DBInitTime:       summary("dbinittime", basic),
		ReadLatency:      summary("readlatency", advanced),
		UpdateLatency:    summary("updatelatency", advanced),
		QuorumAckLatency: summary("quorum_ack_latency", advanced),
		ElectionTime:     summary("election_time", basic),
		FollowerSyncTime: summary("follower_sync_time", basic),

		ProposalCount:      counter("proposal_count"),
		CommitCount:        counter("commit_count"),
		LookingCount:       counter("looking_count"),
		DiffCount:          counter("diff_count"),
		SnapCount:          counter("snap_count"),
		LearnerProposals:   counter("learner_proposal_received_count"),
		LearnerCommits:     counter("learner_commit_received_count"),
		BytesReceived:      counter("bytes_received_count"),
		ConnectionRequests: counter("connection_request_count"),
		reg:                reg,
	}
	if opts.Gauges != nil {
		reg.MustRegister(gauges{read: opts.Gauges, own: m.names()})
	}
	if opts.Runtime {
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// names are the metrics m registers itself, which a gauge of the same
// name must not shadow.
func (m *Server) names() map[string]bool {
	fams, _ := m.reg.Gather()
	own := make(map[string]bool, len(fams))
	for _, f := range fams {
		own[f.GetName()] = true
	}
	return own
}

// Handler serves the registry in Prometheus's text format.
func (m *Server) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Serve serves the metrics at /metrics on l until ctx ends, as upstream's
// provider serves them.
func (m *Server) Serve(ctx context.Context, l net.Listener, log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	log.Info("serving Prometheus metrics", "addr", l.Addr().String(), "path", "/metrics")
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: serve %s: %w", l.Addr(), err)
	}
	return nil
}

// gauges exports mntr's numeric figures as gauges at each scrape. It is
// an unchecked collector: which figures mntr has depends on the role.
type gauges struct {
	read func() [][2]string
	own  map[string]bool
}

func (g gauges) Describe(chan<- *prometheus.Desc) {}

func (g gauges) Collect(ch chan<- prometheus.Metric) {
	seen := map[string]bool{}
	for _, kv := range g.read() {
		name := kv[0]
		if g.own[name] || seen[name] {
			continue
		}
		v, err := strconv.ParseFloat(kv[1], 64)
		if err != nil {
			continue // version, server_state, last_zxid (hex)
		}
		seen[name] = true
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, name, nil, nil), prometheus.GaugeValue, v)
	}
}
