package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"
)

// Properties are the Java system properties a server sees;
// *config.Config implements it.
type Properties interface {
	Property(key string) (string, bool)
}

// Scope is one of upstream's two sets of TLS settings.
type Scope struct {
	prefix string
	// verifyClientHost: a server checks a client's address against its
	// certificate (quorum connections only, as upstream).
	verifyClientHost bool
}

// The two scopes: the client port's (ClientX509Util) and the quorum's
// (QuorumX509Util).
var (
	Client = Scope{prefix: "zookeeper.ssl."}
	Quorum = Scope{prefix: "zookeeper.ssl.quorum.", verifyClientHost: true}
)

// Key is the full property name of a setting of the scope, e.g.
// Client.Key("keyStore.location") = "zookeeper.ssl.keyStore.location".
func (s Scope) Key(name string) string { return s.prefix + name }

// ClientAuth is ssl.clientAuth: whether a server asks for client
// certificates.
type ClientAuth int

// The values of ssl.clientAuth.
const (
	ClientAuthNeed ClientAuth = iota // the default
	ClientAuthWant
	ClientAuthNone
)

// DefaultProtocol is upstream 3.8's ssl.protocol default.
const DefaultProtocol = "TLSv1.2"

// Error is a TLS setting the server cannot use.
type Error struct {
	Key    string // the property, e.g. zookeeper.ssl.keyStore.password
	File   string // the file concerned, if any
	Reason string
	Err    error // the underlying error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("tlsconf: ")
	b.WriteString(e.Key)
	if e.File != "" {
		fmt.Fprintf(&b, " (%s)", e.File)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Material is a scope's settings with its stores loaded.
type Material struct {
	scope Scope
	// Certificate is the key store's key and chain; nil when no key
	// store is configured.
	Certificate *tls.Certificate
	// Roots are the trust store's certificates; nil (the system's roots,
	// as upstream falls back to the JVM's) when none is configured.
	Roots *x509.CertPool

	ClientAuth           ClientAuth
	HostnameVerification bool
	MinVersion           uint16
	MaxVersion           uint16
	CipherSuites         []uint16 // nil: Go's defaults
	// Warnings are settings accepted in part (cipher suites Go lacks).
	Warnings []string
}

// Load reads scope's settings from p and the stores they name, checking
// certificates against now.
func Load(p Properties, scope Scope, now time.Time) (*Material, error) {
	r := reader{p: p, s: scope}
	m := &Material{scope: scope}
	for _, name := range []string{"crl", "ocsp"} {
		on, err := r.boolean(name, false)
		if err != nil {
			return nil, err
		}
		if on {
			return nil, &Error{Key: scope.Key(name), Reason: "certificate revocation checks are not supported by this server"}
		}
	}
	if v, ok := r.get("context.supplier.class"); ok && v != "" {
		return nil, &Error{Key: scope.Key("context.supplier.class"), Reason: fmt.Sprintf("%s: a Java SSLContext supplier is not supported by this server", v)}
	}
	var err error
	if m.ClientAuth, err = r.clientAuth(); err != nil {
		return nil, err
	}
	if m.HostnameVerification, err = r.boolean("hostnameVerification", true); err != nil {
		return nil, err
	}
	if m.MinVersion, m.MaxVersion, err = r.protocols(); err != nil {
		return nil, err
	}
	if m.CipherSuites, m.Warnings, err = r.ciphers(); err != nil {
		return nil, err
	}
	ks, err := r.store("keyStore")
	if err != nil {
		return nil, err
	}
	if ks.location != "" {
		cert, err := loadKeyStore(ks)
		if err != nil {
			return nil, err
		}
		m.Certificate = cert
		if err := checkValidity(cert.Leaf, now); err != nil {
			return nil, &Error{Key: ks.key("location"), File: ks.location, Reason: err.Error()}
		}
	}
	ts, err := r.store("trustStore")
	if err != nil {
		return nil, err
	}
	if ts.location != "" {
		certs, err := loadTrustStore(ts)
		if err != nil {
			return nil, err
		}
		m.Roots = x509.NewCertPool()
		for _, c := range certs {
			m.Roots.AddCert(c)
		}
		if scope.verifyClientHost && m.Certificate != nil {
			if err := m.verifyChain(m.Certificate, now); err != nil {
				return nil, &Error{Key: ks.key("location"), File: ks.location, Err: err,
					Reason: fmt.Sprintf("certificate %q is not trusted by %s (%s), which the other servers check it against: %v",
						ClientID(m.Certificate.Leaf), ts.key("location"), ts.location, err)}
			}
		}
	}
	return m, nil
}

func checkValidity(c *x509.Certificate, now time.Time) error {
	switch {
	case now.After(c.NotAfter):
		return fmt.Errorf("certificate %q expired at %s", ClientID(c), c.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(c.NotBefore):
		return fmt.Errorf("certificate %q is not valid before %s", ClientID(c), c.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// verifyChain checks cert against the trust store (any key usage: the
// peers check it as client and as server).
func (m *Material) verifyChain(cert *tls.Certificate, now time.Time) error {
	_, err := m.verify(cert.Certificate, now)
	return err
}

func (m *Material) verify(raw [][]byte, now time.Time) (*x509.Certificate, error) {
	if len(raw) == 0 {
		return nil, errors.New("no certificate")
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, b := range raw {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return nil, err
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: m.Roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return certs[0], err
}

// CanServe reports why the material cannot serve TLS: a listener needs a
// key store.
func (m *Material) CanServe() error {
	if m.Certificate == nil {
		return &Error{Key: m.scope.Key("keyStore.location"), Reason: "not set: a TLS listener needs a certificate"}
	}
	return nil
}

// Server is the configuration of a TLS listener.
func (m *Material) Server() *tls.Config {
	c := m.base()
	switch m.ClientAuth {
	case ClientAuthNeed:
		c.ClientAuth = tls.RequireAndVerifyClientCert
	case ClientAuthWant:
		c.ClientAuth = tls.VerifyClientCertIfGiven
	default:
		c.ClientAuth = tls.NoClientCert
	}
	c.ClientCAs = m.Roots
	return c
}

// Client is the configuration of a dialler to host (a name or an
// address: with hostnameVerification, the server's certificate must
// carry it).
func (m *Material) Client(host string) *tls.Config {
	c := m.base()
	c.RootCAs = m.Roots
	c.ServerName = host
	if !m.HostnameVerification {
		// Check the chain, not the name.
		c.InsecureSkipVerify = true
		c.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			_, err := m.verify(raw, time.Now())
			return err
		}
	}
	return c
}

func (m *Material) base() *tls.Config {
	c := &tls.Config{MinVersion: m.MinVersion, MaxVersion: m.MaxVersion, CipherSuites: m.CipherSuites}
	if m.Certificate != nil {
		c.Certificates = []tls.Certificate{*m.Certificate}
	}
	return c
}

// CheckPeerHost checks, for a quorum scope with hostname verification, that
// the certificate a peer presented names the address it connected from
// (its IP, or a name that address resolves back to), as upstream's
// ZKTrustManager does. Other scopes accept any address.
func (m *Material) CheckPeerHost(cs tls.ConnectionState, remote net.Addr) error {
	if !m.scope.verifyClientHost || !m.HostnameVerification {
		return nil
	}
	if len(cs.PeerCertificates) == 0 {
		return nil // clientAuth allowed none; nothing to check
	}
	cert := cs.PeerCertificates[0]
	host, _, err := net.SplitHostPort(remote.String())
	if err != nil {
		host = remote.String()
	}
	errIP := cert.VerifyHostname(host)
	if errIP == nil {
		return nil
	}
	names, _ := net.LookupAddr(host)
	for _, n := range names {
		if cert.VerifyHostname(strings.TrimSuffix(n, ".")) == nil {
			return nil
		}
	}
	return fmt.Errorf("tlsconf: peer %s: certificate %q does not name it: %w", host, ClientID(cert), errIP)
}

// reader reads one scope's properties.
type reader struct {
	p Properties
	s Scope
}

func (r reader) get(name string) (string, bool) {
	v, ok := r.p.Property(r.s.Key(name))
	return strings.TrimSpace(v), ok
}

func (r reader) boolean(name string, def bool) (bool, error) {
	v, ok := r.get(name)
	if !ok || v == "" {
		return def, nil
	}
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, &Error{Key: r.s.Key(name), Reason: fmt.Sprintf("%q is not true or false", v)}
}

func (r reader) clientAuth() (ClientAuth, error) {
	v, _ := r.get("clientAuth")
	switch strings.ToUpper(v) {
	case "", "NEED":
		return ClientAuthNeed, nil
	case "WANT":
		return ClientAuthWant, nil
	case "NONE":
		return ClientAuthNone, nil
	}
	return 0, &Error{Key: r.s.Key("clientAuth"), Reason: fmt.Sprintf("%q is not none, want or need", v)}
}

// protocolVersions are the protocol names Java knows that Go implements.
var protocolVersions = map[string][2]uint16{
	"TLSv1":   {tls.VersionTLS10, tls.VersionTLS10},
	"TLSv1.1": {tls.VersionTLS11, tls.VersionTLS11},
	"TLSv1.2": {tls.VersionTLS12, tls.VersionTLS12},
	"TLSv1.3": {tls.VersionTLS13, tls.VersionTLS13},
	"TLS":     {tls.VersionTLS12, tls.VersionTLS13}, // JDK 17's "TLS" context
}

// protocols: ssl.enabledProtocols, else ssl.protocol alone (upstream
// enables only the context's protocol by default).
func (r reader) protocols() (uint16, uint16, error) {
	proto, _ := r.get("protocol")
	if proto == "" {
		proto = DefaultProtocol
	}
	if _, ok := protocolVersions[proto]; !ok {
		return 0, 0, &Error{Key: r.s.Key("protocol"), Reason: fmt.Sprintf("%q is not a protocol this server supports (TLSv1.2, TLSv1.3, ...)", proto)}
	}
	key, list := "protocol", []string{proto}
	if v, _ := r.get("enabledProtocols"); v != "" {
		key, list = "enabledProtocols", splitList(v)
	}
	var lo, hi uint16
	for _, name := range list {
		v, ok := protocolVersions[name]
		if !ok {
			return 0, 0, &Error{Key: r.s.Key(key), Reason: fmt.Sprintf("%q is not a protocol this server supports (TLSv1.2, TLSv1.3, ...)", name)}
		}
		if lo == 0 || v[0] < lo {
			lo = v[0]
		}
		hi = max(hi, v[1])
	}
	return lo, hi, nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// ciphers: ssl.ciphersuites by IANA name (Java's names). Names Go lacks
// are left out with a warning; none left is an error.
func (r reader) ciphers() ([]uint16, []string, error) {
	v, _ := r.get("ciphersuites")
	if v == "" {
		return nil, nil, nil
	}
	known := map[string]uint16{}
	var tls13 []string
	for _, cs := range slices.Concat(tls.CipherSuites(), tls.InsecureCipherSuites()) {
		if slices.Contains(cs.SupportedVersions, tls.VersionTLS13) {
			tls13 = append(tls13, cs.Name)
			continue
		}
		known[cs.Name] = cs.ID
	}
	var ids []uint16
	var missing []string
	tls13Named := false
	for _, name := range splitList(v) {
		switch id, ok := known[name]; {
		case ok:
			ids = append(ids, id)
		case slices.Contains(tls13, name):
			tls13Named = true // always on in Go
		default:
			missing = append(missing, name)
		}
	}
	if len(ids) == 0 && !tls13Named {
		return nil, nil, &Error{Key: r.s.Key("ciphersuites"), Reason: fmt.Sprintf("none of %q is a cipher suite this server implements", v)}
	}
	var warnings []string
	if len(missing) > 0 {
		warnings = append(warnings, fmt.Sprintf("%s: cipher suites this server does not implement are left out: %s", r.s.Key("ciphersuites"), strings.Join(missing, ", ")))
	}
	return ids, warnings, nil
}

// storeSettings are a key or trust store's four settings.
type storeSettings struct {
	scope              Scope
	kind               string // "keyStore" or "trustStore"
	location, password string
	passwordKey        string // the setting the password came from
	typ                string // PKCS12, JKS or PEM
}

func (s storeSettings) key(name string) string { return s.scope.Key(s.kind + "." + name) }

func (r reader) store(kind string) (storeSettings, error) {
	s := storeSettings{scope: r.s, kind: kind}
	s.location, _ = r.get(kind + ".location")
	s.password, _ = r.p.Property(r.s.Key(kind + ".password"))
	s.passwordKey = s.key("password")
	if s.location == "" {
		return s, nil
	}
	if path, _ := r.get(kind + ".passwordPath"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return s, &Error{Key: s.key("passwordPath"), File: path, Reason: err.Error(), Err: err}
		}
		s.password = strings.TrimRight(string(b), "\r\n")
		s.passwordKey = s.key("passwordPath")
	}
	typ, _ := r.get(kind + ".type")
	switch strings.ToUpper(typ) {
	case "PKCS12", "JKS", "PEM":
		s.typ = strings.ToUpper(typ)
	case "":
		// Upstream's KeyStoreFileType.fromFilename.
		switch ext := strings.ToLower(s.location[strings.LastIndex(s.location, ".")+1:]); ext {
		case "p12", "pfx":
			s.typ = "PKCS12"
		case "jks":
			s.typ = "JKS"
		case "pem", "crt", "key":
			s.typ = "PEM"
		default:
			return s, &Error{Key: s.key("type"), File: s.location,
				Reason: "cannot tell the store's type from the file's extension (.p12, .pfx, .jks, .pem): set " + s.key("type")}
		}
	default:
		return s, &Error{Key: s.key("type"), File: s.location, Reason: fmt.Sprintf("%q is not a store type this server reads (PKCS12, JKS or PEM)", typ)}
	}
	return s, nil
}
