package config

import "testing"

// Which authentication providers a configuration registers, as upstream's
// ProviderRegistry reads the zookeeper.authProvider.* properties after
// QuorumPeerConfig.configureSSLAuth: ip and digest always; sasl only when
// an authProvider names SASLAuthenticationProvider (a JAAS file does not);
// x509 when an authProvider names X509AuthenticationProvider or a secure
// client port is configured.
func TestProviderRegistered(t *testing.T) {
	base := "tickTime=2000\ndataDir=/d\nclientPort=2181\n"
	const (
		sasl = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
		x509 = "org.apache.zookeeper.server.auth.X509AuthenticationProvider"
	)
	for _, tc := range []struct {
		name, text string
		env        []string
		sasl, x509 bool
	}{
		{"none", base, nil, false, false},
		{"jaas file alone", base, []string{"SERVER_JVMFLAGS=-Djava.security.auth.login.config=/j.conf"}, false, false},
		{"sasl provider", base + "authProvider.1=" + sasl + "\n", nil, true, false},
		{"sasl provider as -D", base, []string{"SERVER_JVMFLAGS=-Dzookeeper.authProvider.sasl=" + sasl}, true, false},
		{"x509 provider under any name", base + "authProvider.7=" + x509 + "\n", nil, false, true},
		{"secure client port", base + "secureClientPort=2281\n", nil, false, true},
		{"portUnification alone", base + "client.portUnification=true\n", nil, false, false},
		{"both", base + "authProvider.1=" + sasl + "\nauthProvider.x509=" + x509 + "\n", nil, true, true},
	} {
		c := mustParse(t, tc.text, tc.env...)
		for scheme, want := range map[string]bool{"ip": true, "digest": true, "sasl": tc.sasl, "x509": tc.x509, "kerberos": false, "world": false} {
			if got := c.ProviderRegistered(scheme); got != want {
				t.Errorf("%s: ProviderRegistered(%q) = %v, want %v", tc.name, scheme, got, want)
			}
		}
	}
}
