package server

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/zkbench/zkbench/server/clientconn"
	"github.com/zkbench/zkbench/server/config"
	"github.com/zkbench/zkbench/server/sasl"
	"github.com/zkbench/zkbench/server/transport"
)

// saslProvider is upstream's SASLAuthenticationProvider, which an
// authProvider.N property registers (the sasl scheme).
const saslProvider = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"

// jaasKey is the -D flag that names the JAAS file.
const jaasKey = "java.security.auth.login.config"

// clientSASL is client SASL and enforced authentication from the
// configuration, as upstream's ServerCnxnFactory.configureSaslLogin,
// SaslServerCallbackHandler and AuthenticationHelper read it. Bad input
// (a JAAS file that is missing or malformed, a section that is missing or
// uses Kerberos, an enforced scheme without its provider) is an error
// naming the key, the file and the reason.
func clientSASL(cfg *config.Config) (clientconn.SASL, error) {
	var s clientconn.SASL
	enforce, err := enforcedSchemes(cfg)
	if err != nil {
		return s, err
	}
	s.Enforce = enforce
	s.AllowFailed = propertyIs(cfg, "zookeeper.allowSaslFailedClients")
	for k, v := range cfg.Properties {
		if k == "zookeeper.superUser" || strings.HasPrefix(k, "zookeeper.superUser.") {
			s.SuperUsers = append(s.SuperUsers, v)
		}
	}
	slices.Sort(s.SuperUsers)

	path, hasJAAS := cfg.Property(jaasKey)
	section, named := cfg.Property("zookeeper.sasl.serverconfig")
	if !named {
		section = "Server"
	}
	if !hasJAAS {
		if named {
			return s, fmt.Errorf("server: zookeeper.sasl.serverconfig=%s: No JAAS configuration section named '%s' was found: no JAAS file is given (-D%s)", section, section, jaasKey)
		}
		return s, nil
	}
	j, err := sasl.LoadJAAS(path)
	if err != nil {
		return s, fmt.Errorf("server: -D%s=%s: %w", jaasKey, path, err)
	}
	if _, ok := j.Section(section); !ok && quorumSASLEnabled(cfg) {
		// A file for quorum SASL alone: upstream serves clients without
		// SASL then, and so does this server.
		return s, nil
	}
	creds, err := j.Credentials(section)
	if err != nil {
		return s, fmt.Errorf("server: -D%s=%s: %w (client SASL reads section %s)", jaasKey, path, err, section)
	}
	if pw, ok := cfg.Property("zookeeper.SASLAuthenticationProvider.superPassword"); ok {
		if _, listed := creds["super"]; listed {
			creds["super"] = pw
		}
	}
	s.Password = func(user string) (string, bool) { pw, ok := creds[user]; return pw, ok }
	return s, nil
}

// enforcedSchemes is AuthenticationHelper's list: "sasl" with
// sessionRequireClientSASLAuth, else enforce.auth.schemes when
// enforce.auth.enabled; each scheme's provider must be registered.
func enforcedSchemes(cfg *config.Config) ([]string, error) {
	var schemes []string
	switch {
	case propertyIs(cfg, "zookeeper.sessionRequireClientSASLAuth"):
		schemes = []string{"sasl"}
	case propertyIs(cfg, "zookeeper.enforce.auth.enabled"):
		v, _ := cfg.Property("zookeeper.enforce.auth.schemes")
		for _, sc := range strings.Split(v, ",") {
			schemes = append(schemes, strings.TrimSpace(sc))
		}
		for len(schemes) > 0 && schemes[len(schemes)-1] == "" { // Java's split drops trailing empties
			schemes = schemes[:len(schemes)-1]
		}
		if len(schemes) == 0 {
			return nil, fmt.Errorf("server: zookeeper.enforce.auth.enabled is true zookeeper.enforce.auth.schemes must be configured")
		}
	default:
		return nil, nil
	}
	for _, sc := range schemes {
		if !cfg.ProviderRegistered(sc) {
			return nil, fmt.Errorf("server: zookeeper.enforce.auth.schemes: Authentication scheme %s is not available (register its provider with authProvider.N; sasl's is %s)", sc, saslProvider)
		}
	}
	return schemes, nil
}

// quorumSASLEnabled is quorum.auth.enableSasl.
func quorumSASLEnabled(cfg *config.Config) bool {
	return cfg.Other["quorum.auth.enableSasl"] == "true"
}

// propertyIs is Boolean.parseBoolean of a system property.
func propertyIs(cfg *config.Config, key string) bool {
	v, _ := cfg.Property(key)
	return strings.EqualFold(v, "true")
}

// withQuorumAuth adds quorum SASL (quorum.auth.enableSasl) to the peer
// ports' security sec (nil: plaintext), as upstream's QuorumPeer builds
// its SaslQuorumAuthServer and SaslQuorumAuthLearner: both JAAS sections
// (quorum.auth.server.saslLoginContext, default QuorumServer, and
// quorum.auth.learner.saslLoginContext, default QuorumLearner) must be in
// the JAAS file, or the server refuses to start naming the key, the file
// and the reason.
func withQuorumAuth(cfg *config.Config, sec *transport.Secure) (*transport.Secure, error) {
	if !quorumSASLEnabled(cfg) {
		return sec, nil
	}
	path, ok := cfg.Property(jaasKey)
	if !ok {
		return nil, fmt.Errorf("server: quorum.auth.enableSasl: no JAAS file is given (-D%s in SERVER_JVMFLAGS)", jaasKey)
	}
	j, err := sasl.LoadJAAS(path)
	if err != nil {
		return nil, fmt.Errorf("server: quorum.auth.enableSasl: -D%s=%s: %w", jaasKey, path, err)
	}
	serverSection := cmp.Or(cfg.Other["quorum.auth.server.saslLoginContext"], "QuorumServer")
	learnerSection := cmp.Or(cfg.Other["quorum.auth.learner.saslLoginContext"], "QuorumLearner")
	creds, err := j.Credentials(serverSection)
	if err != nil {
		return nil, fmt.Errorf("server: quorum.auth.server.saslLoginContext: -D%s=%s: %w", jaasKey, path, err)
	}
	user, pw, err := j.LoginUser(learnerSection)
	if err != nil {
		return nil, fmt.Errorf("server: quorum.auth.learner.saslLoginContext: -D%s=%s: %w", jaasKey, path, err)
	}
	if sec == nil {
		sec = &transport.Secure{}
	}
	sec.Auth = &transport.QuorumAuth{
		Password:        func(u string) (string, bool) { p, ok := creds[u]; return p, ok },
		ServerRequire:   cfg.Other["quorum.auth.serverRequireSasl"] == "true",
		LearnerRequire:  cfg.Other["quorum.auth.learnerRequireSasl"] == "true",
		User:            user,
		LearnerPassword: pw,
	}
	return sec, nil
}
