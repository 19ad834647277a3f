package config

import "strings"

// Observability settings: upstream's metrics provider (zoo.cfg
// metricsProvider.*, read by QuorumPeerConfig) and its AdminServer
// (system properties zookeeper.admin.*, which zoo.cfg's admin.* lines set).

// Upstream's metrics provider classes. Only the Prometheus one serves
// anything; the other two keep figures in the JVM (mntr and the AdminServer
// report them here without one).
const (
	PrometheusProvider = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
	defaultProvider    = "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider"
	nullProvider       = "org.apache.zookeeper.metrics.impl.NullMetricsProvider"
)

// Upstream's defaults for the Prometheus provider and the AdminServer.
const (
	DefaultMetricsHost  = "0.0.0.0"
	DefaultMetricsPort  = 7000
	DefaultAdminAddress = "0.0.0.0"
	DefaultAdminPort    = 8080
	DefaultCommandURL   = "/commands"
)

// MetricsConfig is where the Prometheus endpoint listens.
type MetricsConfig struct {
	// Enabled: metricsProvider.className names upstream's Prometheus
	// provider.
	Enabled bool
	Host    string // metricsProvider.httpHost, default 0.0.0.0
	Port    int    // metricsProvider.httpPort, default 7000
	// ExportRuntime is metricsProvider.exportJvmInfo (default true): here
	// it exports the Go runtime's and the process's collectors instead of
	// the JVM's.
	ExportRuntime bool
}

// Metrics is the metrics provider's configuration.
func (c *Config) Metrics() MetricsConfig {
	m := MetricsConfig{
		Enabled:       c.Other["metricsProvider.className"] == PrometheusProvider,
		Host:          DefaultMetricsHost,
		Port:          DefaultMetricsPort,
		ExportRuntime: c.Other["metricsProvider.exportJvmInfo"] != "false",
	}
	if h, ok := c.Other["metricsProvider.httpHost"]; ok {
		m.Host = h
	}
	if p, ok := javaDecodeInt(c.Other["metricsProvider.httpPort"]); ok {
		m.Port = p
	}
	return m
}

// AdminConfig is where the AdminServer listens.
type AdminConfig struct {
	Enabled    bool   // zookeeper.admin.enableServer, default true as upstream
	Address    string // zookeeper.admin.serverAddress, default 0.0.0.0
	Port       int    // zookeeper.admin.serverPort, default 8080
	CommandURL string // zookeeper.admin.commandURL, default /commands
}

// Admin is the AdminServer's configuration, read as upstream's
// JettyAdminServer reads its system properties.
func (c *Config) Admin() AdminConfig {
	a := AdminConfig{
		// Boolean.parseBoolean(System.getProperty(..., "true")).
		Enabled:    true,
		Address:    DefaultAdminAddress,
		Port:       c.intProperty("zookeeper.admin.serverPort", DefaultAdminPort),
		CommandURL: DefaultCommandURL,
	}
	if v, ok := c.Properties["zookeeper.admin.enableServer"]; ok {
		a.Enabled = strings.EqualFold(v, "true")
	}
	if v, ok := c.Properties["zookeeper.admin.serverAddress"]; ok {
		a.Address = v
	}
	if v, ok := c.Properties["zookeeper.admin.commandURL"]; ok {
		a.CommandURL = v
	}
	return a
}

// setMetricsProvider accepts upstream's provider classes; any other is a
// class upstream could not load, and it does not start either.
func setMetricsProvider(p *parser, s setting) error {
	switch s.value {
	case PrometheusProvider, defaultProvider, nullProvider:
		p.c.Other[s.key] = s.value
		return nil
	}
	return p.errf(s.Line, s.key, "unknown metrics provider %q: this server has %s (and upstream's default and null providers)", s.value, PrometheusProvider)
}
