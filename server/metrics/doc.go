// Package metrics is the server's Prometheus provider: upstream
// ZooKeeper's metric names and types (ServerMetrics.java, served as its
// PrometheusMetricsProvider serves them, at /metrics on
// metricsProvider.httpHost:httpPort), recorded on the server's hot paths.
//
// Every metric is pre-resolved when the server starts: a hook is a nil
// check plus one atomic add (counters) or three (summaries: a bucket of
// 1/64 octave, the count, the sum; quantiles are computed at scrape, over
// the last 10 minutes as upstream's); a server without a provider holds
// nil metrics and pays the nil check only. BenchmarkHooks: a write's
// hooks cost about 60 ns with the provider on, 3 ns off; client_golang's
// own summary costs about 200 ns an observation, which is why Summary is
// this package's.
// Figures that mntr reports (znode_count, outstanding_requests, ...) are
// not recorded at all: they are read from mntr at each scrape and exported
// as gauges, as upstream registers mntr's figures as gauges.
//
// docs/metrics.md lists which of upstream's metrics exist here and which
// do not; a test holds it to what the server exports.
package metrics
