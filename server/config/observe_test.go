package config

import (
	"strings"
	"testing"
)

// The Prometheus provider and the AdminServer are configured by upstream's
// keys, with upstream's defaults, and neither key draws a warning.
func TestObservabilityKeys(t *testing.T) {
	base := "dataDir=/d\nclientPort=2181\n"
	for _, tc := range []struct {
		name    string
		text    string
		env     []string
		metrics MetricsConfig
		admin   AdminConfig
	}{
		{
			name:    "defaults: no provider, the AdminServer on 0.0.0.0:8080/commands as upstream",
			metrics: MetricsConfig{Host: "0.0.0.0", Port: 7000, ExportRuntime: true},
			admin:   AdminConfig{Enabled: true, Address: "0.0.0.0", Port: 8080, CommandURL: "/commands"},
		},
		{
			name: "Prometheus on, AdminServer elsewhere",
			text: "metricsProvider.className=" + PrometheusProvider + "\nmetricsProvider.httpHost=127.0.0.1\n" +
				"metricsProvider.httpPort=17000\nmetricsProvider.exportJvmInfo=false\n" +
				"admin.serverAddress=127.0.0.1\nadmin.serverPort=18080\nadmin.commandURL=/cmd\n",
			metrics: MetricsConfig{Enabled: true, Host: "127.0.0.1", Port: 17000},
			admin:   AdminConfig{Enabled: true, Address: "127.0.0.1", Port: 18080, CommandURL: "/cmd"},
		},
		{
			name:    "AdminServer off by a -D flag, upstream's default provider",
			text:    "metricsProvider.className=org.apache.zookeeper.metrics.impl.DefaultMetricsProvider\n",
			env:     []string{"SERVER_JVMFLAGS=-Dzookeeper.admin.enableServer=false"},
			metrics: MetricsConfig{Host: "0.0.0.0", Port: 7000, ExportRuntime: true},
			admin:   AdminConfig{Address: "0.0.0.0", Port: 8080, CommandURL: "/commands"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(strings.NewReader(base+tc.text), "zoo.cfg", tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Metrics(); got != tc.metrics {
				t.Errorf("Metrics() = %+v, want %+v", got, tc.metrics)
			}
			if got := c.Admin(); got != tc.admin {
				t.Errorf("Admin() = %+v, want %+v", got, tc.admin)
			}
			for _, w := range c.Warnings {
				if strings.Contains(w, "metricsProvider.") || strings.Contains(w, "admin.") {
					t.Errorf("warning about a key that acts: %s", w)
				}
			}
		})
	}
}

// A provider class upstream could not load stops the server (upstream
// fails to start too); a bad port is refused as upstream's parser does.
func TestObservabilityKeysRefused(t *testing.T) {
	base := "dataDir=/d\nclientPort=2181\n"
	for _, text := range []string{
		"metricsProvider.className=com.example.NoSuchProvider\n",
		"metricsProvider.className=" + PrometheusProvider + "\nmetricsProvider.httpPort=seven\n",
	} {
		if _, err := Parse(strings.NewReader(base+text), "zoo.cfg", nil); err == nil {
			t.Errorf("%q: accepted", text)
		}
	}
}
