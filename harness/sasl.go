package harness

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// SASL is the SASL (DIGEST-MD5) setup of one run, as upstream documents
// it and as Go and Java servers read it alike: a JAAS file with the
// server's users (section Server), the client's login (Client, for Java
// clients such as zkCli) and the servers' logins to each other
// (QuorumServer, QuorumLearner), with passwords made for the run.
type SASL struct {
	// Dir is the directory NewSASL wrote into.
	Dir string
	// JAASFile is the JAAS configuration file.
	JAASFile string
	// User and Password are the client login (the Server section lists
	// it).
	User, Password string
	// QuorumUser and QuorumPassword are the servers' login to each other.
	QuorumUser, QuorumPassword string
}

// saslProvider registers the sasl ACL scheme on the servers.
const saslProvider = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"

// NewSASL writes a JAAS file with fresh passwords into dir.
func NewSASL(dir string) (*SASL, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("harness: sasl: %w", err)
	}
	s := &SASL{Dir: dir, JAASFile: filepath.Join(dir, "jaas.conf"), User: "zkbench", Password: secret(), QuorumUser: "zkpeer", QuorumPassword: secret()}
	text := fmt.Sprintf(`// zkbench: SASL (DIGEST-MD5) for one run.
Server {
  org.apache.zookeeper.server.auth.DigestLoginModule required
  user_%[1]s="%[2]s";
};
Client {
  org.apache.zookeeper.server.auth.DigestLoginModule required
  username="%[1]s"
  password="%[2]s";
};
QuorumServer {
  org.apache.zookeeper.server.auth.DigestLoginModule required
  user_%[3]s="%[4]s";
};
QuorumLearner {
  org.apache.zookeeper.server.auth.DigestLoginModule required
  username="%[3]s"
  password="%[4]s";
};
`, s.User, s.Password, s.QuorumUser, s.QuorumPassword)
	if err := os.WriteFile(s.JAASFile, []byte(text), 0o600); err != nil {
		return nil, fmt.Errorf("harness: sasl: %w", err)
	}
	return s, nil
}

func secret() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// JVMFlags are the servers' -D flags (Options.JVMFlags): the JAAS file.
func (s *SASL) JVMFlags() []string {
	return []string{"-Djava.security.auth.login.config=" + s.JAASFile}
}

// ServerConfig is the zoo.cfg of SASL for clients, the same for Go and
// Java: the sasl ACL scheme is registered, and the JAAS file's Server
// section (JVMFlags) turns the login on. It does not set
// sessionRequireClientSASLAuth: the harness's own probe writes and
// recovery checks connect without a login; the driver's sessions all log
// in.
func (s *SASL) ServerConfig() map[string]string {
	return map[string]string{"authProvider.sasl": saslProvider}
}

// QuorumConfig is the zoo.cfg of SASL between servers, required both
// ways.
func (s *SASL) QuorumConfig() map[string]string {
	return map[string]string{
		"quorum.auth.enableSasl":         "true",
		"quorum.auth.learnerRequireSasl": "true",
		"quorum.auth.serverRequireSasl":  "true",
	}
}
