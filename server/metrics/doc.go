// Package metrics is the server's Prometheus provider: upstream
// ZooKeeper's metric names and types (ServerMetrics.java, served as its
// PrometheusMetricsProvider serves them, at /metrics on
// metricsProvider.httpHost:httpPort), recorded on the server's hot paths.
//
// Every metric is pre-resolved when the server starts: a hook is a nil
// check plus one atomic add (counters) or one summary observation
// (summaries, in milliseconds as upstream's); a server without a provider
// holds nil metrics and pays the nil check only (BenchmarkHooks).
// Figures that mntr reports (znode_count, outstanding_requests, ...) are
// not recorded at all: they are read from mntr at each scrape and exported
// as gauges, as upstream registers mntr's figures as gauges.
//
// docs/metrics.md lists which of upstream's metrics exist here and which
// do not; a test holds it to what the server exports.
package metrics
