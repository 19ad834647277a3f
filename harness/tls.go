package harness

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/zkbench/zkbench/internal/certgen"
)

// TLS is the certificates of one run: a CA made for it, one certificate
// for the servers (naming localhost, 127.0.0.1 and any other hosts given,
// so that clients and peers verifying host names accept it), one for the
// clients, written as key and trust stores of one type that Go and Java
// servers read alike, plus PEM copies for clients that want PEM files
// (kazoo).
type TLS struct {
	Dir      string
	Type     string // certgen.PKCS12, JKS or PEM
	Password string // of every store (none for PEM)

	ServerKeyStore, ClientKeyStore, TrustStore string // store paths

	// CAFile, ClientCertFile and ClientKeyFile are PEM: the CA
	// certificate, the client certificate and its key.
	CAFile, ClientCertFile, ClientKeyFile string

	// ClientID is the client certificate's x509 ACL id.
	ClientID string

	ca     *certgen.CA
	client *certgen.Leaf
}

// tlsPassword protects the generated stores (keystore-go wants six
// characters or more).
const tlsPassword = "zkbench-run"

// NewTLS makes a CA and certificates in dir, stores of type typ
// (PKCS12 when empty); hosts are server names or addresses besides
// localhost and 127.0.0.1.
func NewTLS(dir, typ string, hosts ...string) (*TLS, error) {
	if typ == "" {
		typ = certgen.PKCS12
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("harness: tls: %w", err)
	}
	ca, err := certgen.NewCA(certgen.Options{Subject: pkix.Name{CommonName: "zkbench run CA", Organization: []string{"zkbench"}}})
	if err != nil {
		return nil, err
	}
	dns, ips := []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else {
			dns = append(dns, h)
		}
	}
	server, err := ca.Issue(certgen.Options{Subject: pkix.Name{CommonName: "zkbench server", Organization: []string{"zkbench"}}, DNSNames: dns, IPs: ips})
	if err != nil {
		return nil, err
	}
	client, err := ca.Issue(certgen.Options{Subject: pkix.Name{CommonName: "zkbench client", Organization: []string{"zkbench"}}, DNSNames: dns, IPs: ips})
	if err != nil {
		return nil, err
	}
	t := &TLS{Dir: dir, Type: typ, Password: tlsPassword, ClientID: "CN=zkbench client,O=zkbench", ca: ca, client: client}
	if typ == certgen.PEM {
		t.Password = ""
	}
	ext := certgen.Ext(typ)
	t.ServerKeyStore = filepath.Join(dir, "server-keystore"+ext)
	t.ClientKeyStore = filepath.Join(dir, "client-keystore"+ext)
	t.TrustStore = filepath.Join(dir, "truststore"+ext)
	if err := certgen.WriteKeyStore(t.ServerKeyStore, typ, server, t.Password); err != nil {
		return nil, err
	}
	if err := certgen.WriteKeyStore(t.ClientKeyStore, typ, client, t.Password); err != nil {
		return nil, err
	}
	if err := certgen.WriteTrustStore(t.TrustStore, typ, []*x509.Certificate{ca.Cert}, t.Password); err != nil {
		return nil, err
	}
	t.CAFile = filepath.Join(dir, "ca.pem")
	t.ClientCertFile = filepath.Join(dir, "client.pem")
	t.ClientKeyFile = filepath.Join(dir, "client-key.pem")
	if err := certgen.WriteTrustStore(t.CAFile, certgen.PEM, []*x509.Certificate{ca.Cert}, ""); err != nil {
		return nil, err
	}
	if err := certgen.WriteTrustStore(t.ClientCertFile, certgen.PEM, client.Chain, ""); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(client.Key)
	if err != nil {
		return nil, fmt.Errorf("harness: tls: %w", err)
	}
	if err := os.WriteFile(t.ClientKeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, fmt.Errorf("harness: tls: %w", err)
	}
	return t, nil
}

// ServerConfig is the zoo.cfg of TLS on the client port, the same for Go
// and Java servers (Java needs the Netty connection factory for it):
// secureClientPort itself is the caller's.
func (t *TLS) ServerConfig() map[string]string {
	return map[string]string{
		"serverCnxnFactory":       "org.apache.zookeeper.server.NettyServerCnxnFactory",
		"authProvider.x509":       "org.apache.zookeeper.server.auth.X509AuthenticationProvider",
		"ssl.keyStore.location":   t.ServerKeyStore,
		"ssl.keyStore.password":   t.Password,
		"ssl.keyStore.type":       t.Type,
		"ssl.trustStore.location": t.TrustStore,
		"ssl.trustStore.password": t.Password,
		"ssl.trustStore.type":     t.Type,
	}
}

// QuorumConfig is the zoo.cfg of TLS between servers (sslQuorum), the
// same for Go and Java: every server presents the server certificate and
// checks its peers' against the run's CA.
func (t *TLS) QuorumConfig() map[string]string {
	return map[string]string{
		"sslQuorum":                      "true",
		"serverCnxnFactory":              "org.apache.zookeeper.server.NettyServerCnxnFactory",
		"ssl.quorum.keyStore.location":   t.ServerKeyStore,
		"ssl.quorum.keyStore.password":   t.Password,
		"ssl.quorum.keyStore.type":       t.Type,
		"ssl.quorum.trustStore.location": t.TrustStore,
		"ssl.quorum.trustStore.password": t.Password,
		"ssl.quorum.trustStore.type":     t.Type,
	}
}

// QuorumLines are QuorumConfig as zoo.cfg lines, sorted.
func (t *TLS) QuorumLines() []string { return lines(t.QuorumConfig()) }

// ServerLines are ServerConfig as zoo.cfg lines, sorted.
func (t *TLS) ServerLines() []string { return lines(t.ServerConfig()) }

func lines(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// ClientConfig is a Go client's TLS configuration: the client
// certificate, and the run's CA as the only root.
func (t *TLS) ClientConfig() *tls.Config {
	roots := x509.NewCertPool()
	roots.AddCert(t.ca.Cert)
	chain := make([][]byte, len(t.client.Chain))
	for i, c := range t.client.Chain {
		chain[i] = c.Raw
	}
	return &tls.Config{
		RootCAs:      roots,
		Certificates: []tls.Certificate{{Certificate: chain, PrivateKey: t.client.Key, Leaf: t.client.Cert}},
	}
}

// JavaClientFlags are the -D flags (CLIENT_JVMFLAGS) of a Java client,
// zkCli.sh among them, that connects with the client certificate.
func (t *TLS) JavaClientFlags() string {
	return strings.Join([]string{
		"-Dzookeeper.client.secure=true",
		"-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty",
		"-Dzookeeper.ssl.keyStore.location=" + t.ClientKeyStore,
		"-Dzookeeper.ssl.keyStore.password=" + t.Password,
		"-Dzookeeper.ssl.keyStore.type=" + t.Type,
		"-Dzookeeper.ssl.trustStore.location=" + t.TrustStore,
		"-Dzookeeper.ssl.trustStore.password=" + t.Password,
		"-Dzookeeper.ssl.trustStore.type=" + t.Type,
	}, " ")
}
