package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// keyAction is what the server does with a zoo.cfg key or a -D property.
type keyAction int

const (
	// acts: the server implements the setting.
	acts keyAction = iota
	// ignored: upstream knows the key, but nothing a client or an operator
	// relies on changes without it here (an admin server, metrics, a knob
	// of upstream's internals). One warning names the key; the server
	// starts.
	ignored
	// refused: a security feature (or a session mode) this server does not
	// implement. Starting without it would run less safely, or otherwise
	// than the configuration asks, so the server refuses to start, unless
	// the value is one of the rule's harmless values (the feature off).
	refused
)

// valueCheck is how upstream's QuorumPeerConfig parses the value of one of
// its own settings (keys that are not system properties).
type valueCheck int

const (
	anyValue  valueCheck = iota // a string, or a system property
	boolValue                   // "true" or "false", any case
	intValue                    // Integer.parseInt
	longValue                   // Long.parseLong
)

// keyRule is one row of the key table: what a key does here, and how
// upstream reads it.
type keyRule struct {
	// key as written in zoo.cfg; a trailing '*' matches any rest. With
	// flag, the name of a -D system property instead.
	key    string
	action keyAction
	// property: upstream reads the key as the system property
	// zookeeper.<key>, which a -Dzookeeper.<key> flag sets as well.
	property bool
	// flag: the rule is for the -D property named key only (not a zoo.cfg
	// key: a zoo.cfg line becomes zookeeper.<key>, which is another name).
	flag bool
	// ensembleOnly: upstream uses the key only in an ensemble; a refused
	// key is then only warned about on a standalone server.
	ensembleOnly bool
	// harmless are the values (compared ignoring case) of a refused key
	// that ask for nothing: they are accepted, with an ignored key's
	// warning.
	harmless []string
	check    valueCheck
	// set stores the value of a setting the parser holds in a field.
	set func(p *parser, s setting) error
	// why says, for an ignored key, what upstream does with it that this
	// server does not; for a refused key, the feature that is missing; for
	// a key that acts, what it sets (documentation only).
	why string
}

// setting is one zoo.cfg line as the key table sees it: key and value
// trimmed as upstream trims them, and the entry as read (server lines are
// parsed from it untrimmed, as upstream does).
type setting struct {
	entry
	key, value string
}

// Upstream's built-in authentication providers, which this server
// implements (the digest, ip, x509 and sasl schemes; ProviderRegistered
// says which a configuration registers).
const (
	digestProvider = "org.apache.zookeeper.server.auth.DigestAuthenticationProvider"
	ipProvider     = "org.apache.zookeeper.server.auth.IPAuthenticationProvider"
	x509Provider   = "org.apache.zookeeper.server.auth.X509AuthenticationProvider"
	saslProvider   = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
)

// keyRules is the key table. Adding a key is adding a row. Every key that
// upstream 3.8 reads from zoo.cfg or a -D flag and that a user may set is
// here; a zoo.cfg key that is not becomes a system property with an
// "unknown key" warning. Upstream's sources are QuorumPeerConfig
// (settings), ZooKeeperServer, ServerCnxnFactory, X509Util,
// ProviderRegistry, AuthenticationHelper and the Administrator's Guide.
var keyRules = []keyRule{
	// QuorumPeerConfig's own settings.
	{key: "dataDir", action: acts, set: setDataDir, why: "where snapshots and myid live"},
	{key: "dataLogDir", action: acts, set: setDataLogDir, why: "where transaction logs live"},
	{key: "clientPort", action: acts, set: setClientPort, why: "the client port"},
	{key: "clientPortAddress", action: acts, set: setClientPortAddress, why: "the client address"},
	{key: "tickTime", action: acts, set: nonNegativeField(func(c *Config) *int { return &c.TickTime }), why: "the tick"},
	{key: "initLimit", action: acts, set: nonNegativeField(func(c *Config) *int { return &c.InitLimit }), why: "ticks to connect and sync to a leader"},
	{key: "syncLimit", action: acts, set: nonNegativeField(func(c *Config) *int { return &c.SyncLimit }), why: "ticks a learner may lag"},
	{key: "maxClientCnxns", action: acts, set: intField(func(c *Config) *int { return &c.MaxClientCnxns }), why: "connections per client IP"},
	{key: "minSessionTimeout", action: acts, set: intField(func(c *Config) *int { return &c.MinSessionTimeout }), why: "session timeout bounds"},
	{key: "maxSessionTimeout", action: acts, set: intField(func(c *Config) *int { return &c.MaxSessionTimeout }), why: "session timeout bounds"},
	{key: "electionAlg", action: acts, set: setElectionAlg, why: "only 3 exists"},
	{key: "quorumListenOnAllIPs", action: acts, set: boolField(func(c *Config) *bool { return &c.QuorumListenOnAllIPs }), why: "bind quorum ports on all interfaces"},
	{key: "peerType", action: acts, set: setPeerType, why: "participant or observer"},
	{key: "dynamicConfigFile", action: acts, set: setDynamicConfigFile, why: "the file with the server lines"},
	{key: "autopurge.snapRetainCount", action: acts, set: setSnapRetainCount, why: "snapshots autopurge keeps"},
	{key: "autopurge.purgeInterval", action: acts, set: intField(func(c *Config) *int { return &c.PurgeInterval }), why: "hours between autopurges"},
	{key: "standaloneEnabled", action: acts, set: boolField(func(c *Config) *bool { return &c.StandaloneEnabled }), why: "one server runs standalone"},
	{key: "reconfigEnabled", action: acts, set: boolField(func(c *Config) *bool { return &c.ReconfigEnabled }), why: "dynamic reconfiguration"},
	{key: "server.*", action: acts, set: setQuorumEntry, why: "the ensemble"},
	{key: "group*", action: acts, set: setQuorumEntry, why: "hierarchical quorums (refused when the servers are read)"},
	{key: "weight*", action: acts, set: setQuorumEntry, why: "hierarchical quorums (refused when the servers are read)"},

	{key: "clientPortListenBacklog", action: ignored, set: intField(func(c *Config) *int { return &c.ClientPortListenBacklog }), why: "the listen backlog is the system default here"},
	{key: "observerMasterPort", action: ignored, set: intField(func(c *Config) *int { return &c.ObserverMasterPort }), why: "observers sync from the leader here, not from a follower's observer master port"},
	{key: "connectToLearnerMasterLimit", action: ignored, set: intField(func(c *Config) *int { return &c.ConnectToLearnerMasterLimit }), why: "it only bounds connecting to an observer master"},
	{key: "syncEnabled", action: ignored, set: boolField(func(c *Config) *bool { return &c.SyncEnabled }), why: "observers always keep a log and snapshots here"},
	{key: "localSessionsEnabled", action: refused, ensembleOnly: true, check: boolValue, harmless: []string{"false"}, why: "local sessions"},
	{key: "localSessionsUpgradingEnabled", action: ignored, check: boolValue, why: "it only matters with local sessions, which this server refuses"},
	{key: "quorum.cnxn.threads.size", action: ignored, check: intValue, why: "it sizes upstream's quorum SASL threads; each connection authenticates in its own goroutine here"},
	{key: "jvm.pause.monitor", action: ignored, check: boolValue, why: "there is no JVM here"},
	{key: "jvm.pause.info-threshold.ms", action: ignored, check: longValue, why: "there is no JVM here"},
	{key: "jvm.pause.warn-threshold.ms", action: ignored, check: longValue, why: "there is no JVM here"},
	{key: "jvm.pause.sleep.time.ms", action: ignored, check: longValue, why: "there is no JVM here"},
	{key: "metricsProvider.className", action: acts, set: setMetricsProvider, why: "the Prometheus provider serves metrics (observe.go)"},
	{key: "metricsProvider.httpHost", action: acts, why: "the Prometheus endpoint's address"},
	{key: "metricsProvider.httpPort", action: acts, check: intValue, why: "the Prometheus endpoint's port"},
	{key: "metricsProvider.exportJvmInfo", action: acts, check: boolValue, why: "export the Go runtime's and the process's metrics (there is no JVM)"},
	{key: "metricsProvider.*", action: ignored, why: "the Prometheus provider's other settings (HTTPS, worker threads, summary windows) are not built"},
	{key: "multiAddress.enabled", action: ignored, check: boolValue, why: "multiple addresses per server are refused here"},
	{key: "multiAddress.reachabilityCheckEnabled", action: ignored, check: boolValue, why: "multiple addresses per server are refused here"},
	{key: "multiAddress.reachabilityCheckTimeoutMs", action: ignored, check: intValue, why: "multiple addresses per server are refused here"},
	{key: "oraclePath", action: ignored, why: "there is no quorum oracle for two-server ensembles here"},
	{key: "sslQuorumReloadCertFiles", action: ignored, check: boolValue, why: "the quorum's stores are read at start only here"},

	// TLS.
	{key: "secureClientPort", action: acts, set: setSecureClientPort, why: "the TLS client port"},
	{key: "secureClientPortAddress", action: acts, set: setSecureClientPortAddress, why: "the TLS client address"},
	{key: "sslQuorum", action: acts, check: boolValue, why: "TLS between servers (ssl.quorum.* settings)"},
	{key: "portUnification", action: acts, check: boolValue, why: "the election and quorum ports take TLS and plaintext alike (rolling upgrades to sslQuorum)"},
	{key: "client.portUnification", action: acts, property: true, why: "the client port takes TLS clients beside plaintext ones"},
	{key: "ssl.*", action: acts, property: true, why: "TLS stores, protocols, ciphers, clientAuth, hostname verification (server/tlsconf reads and checks them)"},
	{key: "ssl.authProvider", action: refused, property: true, harmless: []string{"x509"}, why: "authentication providers for TLS clients other than x509"},
	{key: "ssl.sslProvider", action: ignored, property: true, why: "Go's TLS is the only provider here"},
	{key: "ssl.quorum.sslProvider", action: ignored, property: true, why: "Go's TLS is the only provider here"},
	{key: "ssl.handshakeDetectionTimeoutMillis", action: ignored, property: true, why: "a connection's first byte tells TLS from plaintext here, within the connection's own timeout"},
	{key: "ssl.quorum.handshakeDetectionTimeoutMillis", action: ignored, property: true, why: "a connection's first byte tells TLS from plaintext here, within the connection's own timeout"},

	// SASL and authentication.
	{key: "quorum.auth.enableSasl", action: acts, check: boolValue, why: "SASL (DIGEST-MD5) between servers"},
	{key: "quorum.auth.serverRequireSasl", action: acts, check: boolValue, why: "servers that connect must authenticate"},
	{key: "quorum.auth.learnerRequireSasl", action: acts, check: boolValue, why: "this server authenticates on every connection it makes"},
	{key: "quorum.auth.server.saslLoginContext", action: acts, why: "the JAAS section of the quorum users (default QuorumServer)"},
	{key: "quorum.auth.learner.saslLoginContext", action: acts, why: "the JAAS section this server logs in with (default QuorumLearner)"},
	{key: "quorum.auth.kerberos.servicePrincipal", action: ignored, why: "only Kerberos (GSSAPI) uses it, which this server refuses"},
	{key: "quorum.auth.*", action: refused, why: "quorum authentication settings upstream does not have"},
	{key: "authProvider.*", action: refused, property: true, harmless: []string{digestProvider, ipProvider, x509Provider, saslProvider}, why: "authentication providers other than the built-in digest, ip, x509 and sasl"},
	{key: "sessionRequireClientSASLAuth", action: acts, property: true, why: "every session must log in with SASL (enforced authentication of scheme sasl)"},
	{key: "enforce.auth.enabled", action: acts, property: true, why: "sessions must authenticate with one of enforce.auth.schemes"},
	{key: "enforce.auth.schemes", action: acts, property: true, why: "the schemes enforce.auth.enabled asks for"},
	{key: "DigestAuthenticationProvider.digestAlg", action: refused, property: true, harmless: []string{"SHA1"}, why: "digest algorithms other than SHA1"},
	{key: "DigestAuthenticationProvider.enabled", action: refused, property: true, harmless: []string{"true"}, why: "turning the digest scheme off"},
	{key: "X509AuthenticationProvider.superUser", action: acts, property: true, why: "the TLS client certificate subject that is super"},
	{key: "superUser", action: acts, property: true, why: "the SASL user that is super"},
	{key: "superUser.*", action: acts, property: true, why: "more SASL users that are super"},
	{key: "SASLAuthenticationProvider.superPassword", action: acts, property: true, why: "the SASL password of the user super"},
	{key: "sasl.serverconfig", action: acts, property: true, why: "the JAAS section of the client SASL users (default Server)"},
	{key: "java.security.auth.login.config", action: acts, flag: true, why: "the JAAS file: client SASL users (DIGEST-MD5; Kerberos is refused)"},
	{key: "DigestAuthenticationProvider.superDigest", action: acts, property: true, why: "the super user's digest"},
	{key: "skipACL", action: acts, property: true, why: "ACL checks off"},
	{key: "allowSaslFailedClients", action: acts, property: true, why: "a client whose SASL login failed stays connected"},
	{key: "kerberos.*", action: ignored, property: true, why: "it only matters with Kerberos (GSSAPI), which this server refuses"},

	// System properties the server reads.
	{key: "snapCount", action: acts, property: true, why: "txns between snapshots"},
	{key: "preAllocSize", action: acts, property: true, why: "log file preallocation"},
	{key: "forceSync", action: acts, property: true, why: "fsync the log"},
	{key: "flushDelay", action: acts, property: true, why: "group commit delay"},
	{key: "maxBatchSize", action: acts, property: true, why: "txns per group commit"},
	{key: "commitLingerUs", action: acts, property: true, why: "this server's group commit linger (Java ignores it)"},
	{key: "leaderServes", action: acts, property: true, why: "the leader serves clients"},
	{key: "4lw.commands.whitelist", action: acts, property: true, why: "four-letter words enabled"},
	{key: "extendedTypesEnabled", action: acts, property: true, why: "TTL nodes"},
	{key: "commitLogCount", action: acts, property: true, why: "the in-memory log window for DIFF syncs"},
	{key: "jute.maxbuffer", action: acts, flag: true, why: "the largest packet"},
	{key: "readonlymode.enabled", action: acts, flag: true, why: "read-only mode"},
	{key: "enforceQuota", action: acts, property: true, why: "quotas' hard limits fail writes"},
	{key: "znode.container.*", action: acts, flag: true, why: "how the leader reaps containers and TTL nodes"},

	// System properties this server does not act on.
	{key: "admin.enableServer", action: acts, property: true, why: "run the AdminServer (observe.go)"},
	{key: "admin.serverAddress", action: acts, property: true, why: "the AdminServer's address"},
	{key: "admin.serverPort", action: acts, property: true, why: "the AdminServer's port"},
	{key: "admin.commandURL", action: acts, property: true, why: "the AdminServer's command path"},
	{key: "admin.*", action: ignored, property: true, why: "the AdminServer's other settings (HTTPS, idle timeout, authentication) are not built"},
	{key: "serverCnxnFactory", action: ignored, property: true, why: "there is one connection layer here"},
	{key: "maxCnxns", action: ignored, property: true, why: "only maxClientCnxns (per client IP) bounds connections here"},
	{key: "globalOutstandingLimit", action: ignored, property: true, why: "upstream's request throttle is not implemented"},
	{key: "requestThrottleLimit", action: ignored, property: true, why: "upstream's request throttle is not implemented"},
	{key: "maxWriteQueuePollTime", action: ignored, property: true, why: "group commit is tuned by flushDelay, maxBatchSize and commitLingerUs here"},
	{key: "snapSizeLimitInKb", action: ignored, property: true, why: "snapshots are taken by snapCount only here"},
	{key: "txnLogSizeLimitInKb", action: ignored, property: true, why: "log files roll at snapshots only here"},
	{key: "snapshot.compression.method", action: ignored, property: true, why: "snapshots are written uncompressed here"},
	{key: "snapshot.trust.empty", action: ignored, property: true, why: "upstream's check for a missing snapshot"},
	{key: "digest.enabled", action: ignored, property: true, why: "there are no tree digests here"},
	{key: "audit.enable", action: ignored, property: true, why: "there is no audit log here"},
	{key: "fsync.warningthresholdms", action: ignored, property: true, why: "slow fsyncs are not timed here"},
	{key: "electionPortBindRetry", action: ignored, property: true, why: "a failed election port bind stops the server here"},
	{key: "tcpKeepAlive", action: ignored, property: true, why: "quorum sockets use Go's keep-alive defaults here"},
	{key: "cnxTimeout", action: ignored, property: true, why: "election connections use a fixed timeout here"},
	{key: "closeSessionTxn.enabled", action: ignored, property: true, why: "closeSession txns always carry the session's ephemerals here"},
	{key: "emulate353TTLNodes", action: ignored, property: true, why: "3.5.3 TTL session ids are not emulated here"},
}

// ruleFor finds the rule of a zoo.cfg key (flag false) or of a -D
// property (flag true): an exact rule first, else the one with the longest
// matching pattern. A -D name zookeeper.<key> finds the property rules of
// <key>.
func ruleFor(name string, flag bool) (keyRule, bool) {
	best, bestLen := keyRule{}, -1
	for _, r := range keyRules {
		n, ok := r.nameFor(name, flag)
		if !ok {
			continue
		}
		pattern, isPrefix := strings.CutSuffix(r.key, "*")
		switch {
		case !isPrefix && n == pattern:
			return r, true
		case isPrefix && strings.HasPrefix(n, pattern) && len(pattern) > bestLen:
			best, bestLen = r, len(pattern)
		}
	}
	return best, bestLen >= 0
}

// nameFor is the name the rule matches for a zoo.cfg key or a -D property,
// and false when the rule is not for that kind of name.
func (r keyRule) nameFor(name string, flag bool) (string, bool) {
	switch {
	case flag == r.flag:
		return name, true
	case flag && r.property:
		return strings.CutPrefix(name, "zookeeper.")
	}
	return "", false
}

// isFlagOnly reports whether upstream reads key only as a -D flag (a
// zoo.cfg line of that name becomes zookeeper.<key>, which nothing reads).
func isFlagOnly(key string) bool {
	r, ok := ruleFor(key, true)
	return ok && r.flag
}

// isHarmless reports whether a refused key's value asks for nothing.
func (r keyRule) isHarmless(value string) bool {
	for _, h := range r.harmless {
		if strings.EqualFold(value, h) {
			return true
		}
	}
	return false
}

// refusal is the error message for a refused key whose value asks for
// the feature.
func (r keyRule) refusal() string {
	msg := "this server does not support " + r.why + ": refusing to start rather than run without it"
	if len(r.harmless) > 0 {
		msg += fmt.Sprintf(" (accepted values: %s)", strings.Join(r.harmless, ", "))
	}
	return msg
}

// ignoredWarning is the one warning about an ignored key.
func (r keyRule) ignoredWarning(name string) string {
	if r.action == refused { // a harmless value of a refused key
		return fmt.Sprintf("%s is accepted: its value asks for nothing this server lacks (it does not support %s)", name, r.why)
	}
	return fmt.Sprintf("%s is ignored by this server: %s", name, r.why)
}

// checkValue parses the value of a setting kept in Config.Other as
// upstream parses it, and returns it as Other keeps it.
func (p *parser) checkValue(s setting, check valueCheck) (string, error) {
	switch check {
	case boolValue:
		var b bool
		if err := p.boolValue(s, &b); err != nil {
			return "", err
		}
		return strconv.FormatBool(b), nil
	case intValue:
		var n int
		if err := p.intValue(s, &n); err != nil {
			return "", err
		}
	case longValue:
		if err := p.longValue(s); err != nil {
			return "", err
		}
	}
	return s.value, nil
}

// applyKey does what the key table says with one zoo.cfg line.
func (p *parser) applyKey(s setting) error {
	r, ok := ruleFor(s.key, false)
	if !ok {
		p.unknownKey(s.Line, s.key, s.value)
		return nil
	}
	value := s.value
	if r.set != nil {
		if err := r.set(p, s); err != nil {
			return err
		}
	} else if !r.property {
		v, err := p.checkValue(s, r.check)
		if err != nil {
			return err
		}
		value = v
	}
	if r.action == refused && !r.isHarmless(value) {
		if r.ensembleOnly {
			p.ensembleOnly = append(p.ensembleOnly, pendingRefusal{line: s.Line, key: s.key, value: value, rule: r})
			return nil
		}
		return p.errf(s.Line, s.key, "%s", r.refusal())
	}
	if r.action != acts {
		p.warnf(s.Line, "%s", r.ignoredWarning(s.key))
	}
	switch {
	case r.property:
		p.c.setFileProperty(s.key, value)
	case r.set == nil:
		p.c.Other[s.key] = value
	}
	return nil
}

// pendingRefusal is a refused key that upstream reads only in an ensemble:
// whether this is one is known once the servers are.
type pendingRefusal struct {
	line       int
	key, value string
	rule       keyRule
}

// settleEnsembleOnly refuses the ensemble-only keys of an ensemble and
// warns about them on a standalone server (where upstream ignores them).
func (p *parser) settleEnsembleOnly(standalone bool) error {
	for _, pr := range p.ensembleOnly {
		if !standalone {
			return p.errf(pr.line, pr.key, "%s", pr.rule.refusal())
		}
		p.warnf(pr.line, "%s is ignored: it has no effect on a standalone server (upstream too)", pr.key)
		p.c.Other[pr.key] = pr.value
	}
	p.ensembleOnly = nil
	return nil
}

// checkFlags applies the key table to the -D properties of the
// environment that zoo.cfg does not override (upstream's file wins).
func (p *parser) checkFlags() error {
	c := p.c
	names := make([]string, 0, len(c.envProps))
	for name := range c.envProps {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, inFile := c.fileProps[name]; inFile {
			continue
		}
		r, ok := ruleFor(name, true)
		if !ok {
			continue
		}
		value := c.envProps[name]
		if r.action == refused && !r.isHarmless(value) {
			return &Error{File: p.flagVar[name], Key: "-D" + name, Msg: r.refusal()}
		}
		if r.action != acts {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: -D%s", p.flagVar[name], r.ignoredWarning(name)))
		}
	}
	return nil
}
