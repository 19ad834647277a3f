package config

import (
	"strings"
	"testing"
)

// refusal is the message of a refused key.
func refusal(why string, accepted ...string) string {
	s := "this server does not support " + why + ": refusing to start rather than run without it"
	if len(accepted) > 0 {
		s += " (accepted values: " + strings.Join(accepted, ", ") + ")"
	}
	return s
}

// refusedCases are security settings (and local sessions) this server does
// not implement: it must refuse to start, naming file:line and the key,
// rather than start without them. The zoo.cfg ones go to the upstream
// parser too, which accepts them.
var refusedCases = []struct {
	name, text, want string
}{
	{"tls auth provider", brokenBase + "ssl.authProvider=sasl\n", "zoo.cfg:4: ssl.authProvider: " + refusal("authentication providers for TLS clients other than x509", "x509")},
	{"quorum auth unknown", brokenBase + "quorum.auth.digest=yes\n", "zoo.cfg:4: quorum.auth.digest: " + refusal("quorum authentication settings upstream does not have")},
	{"custom provider", brokenBase + "authProvider.1=com.example.MyProvider\n",
		"zoo.cfg:4: authProvider.1: " + refusal("authentication providers other than the built-in digest, ip, x509 and sasl", digestProvider, ipProvider, x509Provider, saslProvider)},
	{"digest alg", brokenBase + "DigestAuthenticationProvider.digestAlg=SHA-256\n", "zoo.cfg:4: DigestAuthenticationProvider.digestAlg: " + refusal("digest algorithms other than SHA1", "SHA1")},
	{"digest off", brokenBase + "DigestAuthenticationProvider.enabled=false\n", "zoo.cfg:4: DigestAuthenticationProvider.enabled: " + refusal("turning the digest scheme off", "true")},
	{"local sessions", brokenQuorum + "localSessionsEnabled=true\nserver.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\n", "zoo.cfg:6: localSessionsEnabled: " + refusal("local sessions", "false")},
}

func TestRefusedKeys(t *testing.T) {
	for _, tc := range refusedCases {
		_, err := Parse(strings.NewReader(tc.text), "zoo.cfg", nil)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s:\n got %v\nwant %s", tc.name, err, tc.want)
		}
	}
}

// -D flags that turn on security upstream are refused just as the zoo.cfg
// keys are, naming the variable that carries them.
func TestRefusedFlags(t *testing.T) {
	cases := []struct{ env, want string }{
		{"SERVER_JVMFLAGS=-Dzookeeper.authProvider.my=com.example.MyProvider",
			"SERVER_JVMFLAGS: -Dzookeeper.authProvider.my: " + refusal("authentication providers other than the built-in digest, ip, x509 and sasl", digestProvider, ipProvider, x509Provider, saslProvider)},
		{"JVMFLAGS=-Dzookeeper.ssl.authProvider=sasl", "JVMFLAGS: -Dzookeeper.ssl.authProvider: " + refusal("authentication providers for TLS clients other than x509", "x509")},
	}
	for _, tc := range cases {
		_, err := Parse(strings.NewReader(brokenBase), "zoo.cfg", []string{tc.env})
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s:\n got %v\nwant %s", tc.env, err, tc.want)
		}
	}
	// The file wins over a flag (upstream sets its properties after the JVM
	// started).
	c, err := Parse(strings.NewReader(brokenBase+"sessionRequireClientSASLAuth=false\n"), "zoo.cfg",
		[]string{"SERVER_JVMFLAGS=-Dzookeeper.sessionRequireClientSASLAuth=true"})
	if v, _ := c.Property("zookeeper.sessionRequireClientSASLAuth"); err != nil || v != "false" {
		t.Errorf("zoo.cfg false over -D true: %q %v", v, err)
	}
	// Properties upstream reads under another name do nothing: no refusal.
	if _, err := Parse(strings.NewReader(brokenBase), "zoo.cfg", []string{"JVMFLAGS=-Dzookeeper.sslQuorum=true -Dssl.keyStore.location=/k"}); err != nil {
		t.Errorf("flags upstream does not read: %v", err)
	}
}

// Keys the server ignores get exactly one warning each, naming the key
// (and file:line for zoo.cfg); keys it acts on get none.
func TestIgnoredKeysWarnOnce(t *testing.T) {
	text := brokenBase +
		"admin.idleTimeout=30000\n" + // 4
		"admin.portUnification=false\n" + // 5
		"metricsProvider.numWorkerThreads=2\n" + // 6
		"metricsProvider.httpsPort=7443\n" + // 7
		"serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n" + // 8
		"clientPortListenBacklog=50\n" + // 9
		"quorum.auth.enableSasl=false\n" + // 10
		"authProvider.1=" + digestProvider + "\n" + // 11
		"localSessionsEnabled=true\n" + // 12: standalone, where upstream ignores it too
		"snapCount=1000\nforceSync=yes\nskipACL=no\n4lw.commands.whitelist=*\n"
	env := []string{
		"SERVER_JVMFLAGS=-Dzookeeper.admin.idleTimeout=30000 -Dzookeeper.serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory -Dzookeeper.maxCnxns=10 -Djute.maxbuffer=2000000",
		"JVMFLAGS=-Dzookeeper.DigestAuthenticationProvider.digestAlg=sha1",
	}
	c, err := Parse(strings.NewReader(text), "zoo.cfg", env)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"admin.idleTimeout":                      "zoo.cfg:4: admin.idleTimeout is ignored by this server: the AdminServer's other settings",
		"admin.portUnification":                  "zoo.cfg:5: admin.portUnification is ignored by this server",
		"metricsProvider.numWorkerThreads":       "zoo.cfg:6: metricsProvider.numWorkerThreads is ignored by this server: the Prometheus provider's other settings",
		"metricsProvider.httpsPort":              "zoo.cfg:7: metricsProvider.httpsPort is ignored by this server",
		"serverCnxnFactory":                      "zoo.cfg:8: serverCnxnFactory is ignored by this server",
		"clientPortListenBacklog":                "zoo.cfg:9: clientPortListenBacklog is ignored by this server",
		"authProvider.1":                         "zoo.cfg:11: authProvider.1 is accepted",
		"localSessionsEnabled":                   "zoo.cfg:12: localSessionsEnabled is ignored: it has no effect on a standalone server",
		"maxCnxns":                               "SERVER_JVMFLAGS: -Dzookeeper.maxCnxns is ignored by this server",
		"DigestAuthenticationProvider.digestAlg": "JVMFLAGS: -Dzookeeper.DigestAuthenticationProvider.digestAlg is accepted",
	}
	for key, w := range want {
		n := 0
		for _, got := range c.Warnings {
			if strings.Contains(got, key+" ") {
				n++
				if !strings.HasPrefix(got, w) {
					t.Errorf("warning for %s:\n got %s\nwant %s...", key, got, w)
				}
			}
		}
		if n != 1 {
			t.Errorf("%d warnings name %s, want 1: %q", n, key, c.Warnings)
		}
	}
	if len(c.Warnings) != len(want) {
		t.Errorf("%d warnings, want %d:\n%s", len(c.Warnings), len(want), strings.Join(c.Warnings, "\n"))
	}
	if c.Other["localSessionsEnabled"] != "true" || c.Other["clientPortListenBacklog"] != "" || c.ClientPortListenBacklog != 50 {
		t.Errorf("Other %q backlog %d", c.Other, c.ClientPortListenBacklog)
	}
}

// Every key the server acts on is silent, and no rule is shadowed.
func TestKeyTable(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range keyRules {
		id := r.key
		if r.flag {
			id = "-D" + id
		}
		if seen[id] {
			t.Errorf("two rules for %s", id)
		}
		seen[id] = true
		if r.why == "" {
			t.Errorf("%s: no why", id)
		}
		if r.flag && r.property {
			t.Errorf("%s: a rule is for a -D name or for a zoo.cfg key, not both", id)
		}
		if got, ok := ruleFor(strings.TrimSuffix(r.key, "*")+map[bool]string{true: "x"}[strings.HasSuffix(r.key, "*")], r.flag); !ok || got.key != r.key {
			t.Errorf("%s: ruleFor finds %q", id, got.key)
		}
		if r.action != refused && (len(r.harmless) > 0 || r.ensembleOnly) {
			t.Errorf("%s: harmless values and ensembleOnly are for refused keys", id)
		}
	}
}

// Keys the server acts on draw no warning, from zoo.cfg or as -D flags.
func TestActingKeysAreSilent(t *testing.T) {
	c := mustParse(t, brokenBase+"snapCount=1000\nforceSync=yes\nskipACL=no\n4lw.commands.whitelist=*\nenforceQuota=true\n"+
		"extendedTypesEnabled=true\nDigestAuthenticationProvider.superDigest=super:x\ncommitLingerUs=100\n",
		"SERVER_JVMFLAGS=-Djute.maxbuffer=2000000 -Dznode.container.checkIntervalMs=100 -Dznode.container.maxPerMinute=5 -Dzookeeper.leaderServes=no")
	if len(c.Warnings) != 0 {
		t.Errorf("warnings:\n%s", strings.Join(c.Warnings, "\n"))
	}
	if !c.EnforceQuota() || c.ContainerCheckIntervalMs() != 100 || c.MaxBuffer() != 2000000 || c.LeaderServes {
		t.Errorf("enforceQuota %v checkInterval %d maxBuffer %d leaderServes %v", c.EnforceQuota(), c.ContainerCheckIntervalMs(), c.MaxBuffer(), c.LeaderServes)
	}
}

// The SASL settings act: they are kept as properties without a warning,
// from zoo.cfg or -D flags (the JAAS file only as a -D flag).
func TestSASLKeysAct(t *testing.T) {
	text := brokenBase + "sessionRequireClientSASLAuth=true\nauthProvider.1=" + saslProvider + "\nsuperUser=root\nsuperUser.2=admin\n" +
		"enforce.auth.enabled=false\nenforce.auth.schemes=sasl,digest\nallowSaslFailedClients=true\nSASLAuthenticationProvider.superPassword=s\n"
	env := []string{"SERVER_JVMFLAGS=-Djava.security.auth.login.config=/etc/zk/jaas.conf -Dzookeeper.sasl.serverconfig=ZKServer"}
	c, err := Parse(strings.NewReader(text), "zoo.cfg", env)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"java.security.auth.login.config": "/etc/zk/jaas.conf", "zookeeper.sasl.serverconfig": "ZKServer",
		"zookeeper.sessionRequireClientSASLAuth": "true", "zookeeper.superUser": "root", "zookeeper.superUser.2": "admin",
		"zookeeper.enforce.auth.schemes": "sasl,digest", "zookeeper.allowSaslFailedClients": "true",
		"zookeeper.SASLAuthenticationProvider.superPassword": "s",
	} {
		if v, ok := c.Property(k); !ok || v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
	for _, w := range c.Warnings {
		if !strings.Contains(w, "authProvider.1 is accepted") {
			t.Errorf("warning %q", w)
		}
	}
}
