package config

import (
	"bytes"
	"strings"
	"testing"
)

// TLS for clients (issue 20): secureClientPort alone or beside clientPort,
// and the ssl.* settings, act; what this server cannot do is refused.
func TestSecureClientPort(t *testing.T) {
	base := "tickTime=2000\ndataDir=/d\n"
	ks := "ssl.keyStore.location=/k.p12\nssl.keyStore.password=pw\nssl.trustStore.location=/t.jks\nssl.clientAuth=want\n" +
		"ssl.quorum.keyStore.location=/q.p12\nauthProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider\n" +
		"ssl.authProvider=x509\nX509AuthenticationProvider.superUser=CN=admin\nserverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n"
	for _, tc := range []struct {
		name, text    string
		plain, secure int
		secureAddr    string
	}{
		{"alone", base + "secureClientPort=2281\n" + ks, 0, 2281, "0.0.0.0"},
		{"beside", base + "clientPort=2181\nsecureClientPort=2281\n" + ks, 2181, 2281, "0.0.0.0"},
		{"address", base + "clientPort=2181\nclientPortAddress=127.0.0.2\nsecureClientPort=2281\nsecureClientPortAddress=127.0.0.1\n" + ks, 2181, 2281, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, tc.text)
			if c.ClientPort != tc.plain || c.SecureClientPort != tc.secure || c.SecureClientPortAddress != tc.secureAddr {
				t.Errorf("clientPort %d secureClientPort %d at %q", c.ClientPort, c.SecureClientPort, c.SecureClientPortAddress)
			}
			if v, _ := c.Property("zookeeper.ssl.keyStore.location"); v != "/k.p12" {
				t.Errorf("ssl.keyStore.location = %q", v)
			}
			if v, _ := c.Property("zookeeper.X509AuthenticationProvider.superUser"); v != "CN=admin" {
				t.Errorf("superUser = %q", v)
			}
			for _, w := range c.Warnings {
				// A refused key's harmless value is accepted with a
				// warning, as authProvider.1=<digest provider> is.
				if !strings.Contains(w, "serverCnxnFactory") && !strings.Contains(w, "authProvider") {
					t.Errorf("warning %q: TLS settings act", w)
				}
			}
			// Marshal keeps the secure port.
			back, err := Parse(bytes.NewReader(c.Marshal()), "zoo.cfg", nil)
			if err != nil {
				t.Fatal(err)
			}
			if back.SecureClientPort != c.SecureClientPort || back.SecureClientPortAddress != c.SecureClientPortAddress {
				t.Errorf("after Marshal: %d at %q", back.SecureClientPort, back.SecureClientPortAddress)
			}
		})
	}
	// sslQuorum and portUnification act, kept in Other as upstream reads
	// them (Boolean.parseBoolean-like, any case).
	q := mustParse(t, base+"clientPort=1\nsslQuorum=TRUE\nportUnification=False\n")
	if q.Other["sslQuorum"] != "true" || q.Other["portUnification"] != "false" || len(q.Warnings) != 0 {
		t.Errorf("Other %q warnings %q", q.Other, q.Warnings)
	}
	for _, tc := range []struct{ name, text, want string }{
		{"address without port", base + "clientPort=1\nsecureClientPortAddress=127.0.0.1\n", "zoo.cfg:4: secureClientPortAddress: is set but secureClientPort is not set"},
		{"port range", base + "secureClientPort=70000\n", "zoo.cfg:3: secureClientPort: port out of range: 70000"},
		{"sslQuorum", base + "clientPort=1\nsslQuorum=maybe\n", `zoo.cfg:4: sslQuorum: invalid option "maybe": choose 'true' or 'false'`},
		{"auth provider", base + "secureClientPort=1\nssl.authProvider=sasl\n", "zoo.cfg:4: ssl.authProvider: " + refusal("authentication providers for TLS clients other than x509", "x509")},
	} {
		_, err := Parse(strings.NewReader(tc.text), "zoo.cfg", nil)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s:\n got %v\nwant %s", tc.name, err, tc.want)
		}
	}
}
