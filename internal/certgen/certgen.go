// Package certgen makes the certificates of a test or a benchmark run: a
// certificate authority, certificates it signs for servers and clients,
// and the key and trust stores upstream ZooKeeper reads (PKCS12, JKS and
// PEM), so that Go and Java servers and their clients are configured
// from the same files.
//
// Keys are ECDSA P-256: quick to generate, and accepted by Java 17's
// default TLS settings as by Go's.
package certgen

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// Store types, as upstream's ssl.keyStore.type and ssl.trustStore.type
// name them.
const (
	PKCS12 = "PKCS12"
	JKS    = "JKS"
	PEM    = "PEM"
)

// CA is a certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Leaf is a certificate signed by a CA, with its key.
type Leaf struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// Chain is the certificate then its issuers (without the root when
	// the CA is the root, as TLS sends it).
	Chain []*x509.Certificate
}

// Options describe a certificate.
type Options struct {
	// Subject is the certificate's distinguished name.
	Subject pkix.Name
	// DNSNames and IPs are its subject alternative names (hostname
	// verification checks them).
	DNSNames []string
	IPs      []net.IP
	// NotBefore and NotAfter bound its validity; zero means from an hour
	// ago to a day from now.
	NotBefore, NotAfter time.Time
}

func (o Options) validity() (time.Time, time.Time) {
	nb, na := o.NotBefore, o.NotAfter
	if nb.IsZero() {
		nb = time.Now().Add(-time.Hour)
	}
	if na.IsZero() {
		na = time.Now().Add(24 * time.Hour)
	}
	return nb, na
}

// NewCA makes a self-signed certificate authority.
func NewCA(o Options) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certgen: CA key: %w", err)
	}
	nb, na := o.validity()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               o.Subject,
		NotBefore:             nb,
		NotAfter:              na,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("certgen: CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certgen: CA certificate: %w", err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Issue makes a certificate signed by ca, usable by TLS servers and
// clients alike (a quorum peer is both).
func (ca *CA) Issue(o Options) (*Leaf, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certgen: key of %s: %w", o.Subject, err)
	}
	nb, na := o.validity()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      o.Subject,
		NotBefore:    nb,
		NotAfter:     na,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     o.DNSNames,
		IPAddresses:  o.IPs,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("certgen: certificate of %s: %w", o.Subject, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certgen: certificate of %s: %w", o.Subject, err)
	}
	return &Leaf{Cert: cert, Key: key, Chain: []*x509.Certificate{cert, ca.Cert}}, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(fmt.Sprintf("certgen: crypto/rand failed: %v", err))
	}
	return n
}

// KeyStore encodes leaf's key and chain as a key store of type typ
// (PKCS12, JKS or PEM) protected by password (a PEM key store is not
// encrypted: upstream reads an unencrypted key when the password is
// empty).
func KeyStore(typ string, leaf *Leaf, password string) ([]byte, error) {
	switch typ {
	case PKCS12:
		b, err := pkcs12.Modern2023.Encode(leaf.Key, leaf.Cert, leaf.Chain[1:], password)
		if err != nil {
			return nil, fmt.Errorf("certgen: PKCS12 key store: %w", err)
		}
		return b, nil
	case JKS:
		pk, err := x509.MarshalPKCS8PrivateKey(leaf.Key)
		if err != nil {
			return nil, fmt.Errorf("certgen: JKS key store: %w", err)
		}
		ks := keystore.New()
		entry := keystore.PrivateKeyEntry{CreationTime: time.Now(), PrivateKey: pk}
		for _, c := range leaf.Chain {
			entry.CertificateChain = append(entry.CertificateChain, keystore.Certificate{Type: "X509", Content: c.Raw})
		}
		if err := ks.SetPrivateKeyEntry("key", entry, []byte(password)); err != nil {
			return nil, fmt.Errorf("certgen: JKS key store: %w", err)
		}
		return storeJKS(ks, password)
	case PEM:
		pk, err := x509.MarshalPKCS8PrivateKey(leaf.Key)
		if err != nil {
			return nil, fmt.Errorf("certgen: PEM key store: %w", err)
		}
		var b bytes.Buffer
		pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: pk})
		for _, c := range leaf.Chain {
			pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		}
		return b.Bytes(), nil
	}
	return nil, fmt.Errorf("certgen: unknown store type %q (want PKCS12, JKS or PEM)", typ)
}

// TrustStore encodes certs as a trust store of type typ protected by
// password.
func TrustStore(typ string, certs []*x509.Certificate, password string) ([]byte, error) {
	switch typ {
	case PKCS12:
		b, err := pkcs12.Modern2023.EncodeTrustStore(certs, password)
		if err != nil {
			return nil, fmt.Errorf("certgen: PKCS12 trust store: %w", err)
		}
		return b, nil
	case JKS:
		ks := keystore.New()
		for i, c := range certs {
			entry := keystore.TrustedCertificateEntry{CreationTime: time.Now(), Certificate: keystore.Certificate{Type: "X509", Content: c.Raw}}
			if err := ks.SetTrustedCertificateEntry(fmt.Sprintf("ca%d", i), entry); err != nil {
				return nil, fmt.Errorf("certgen: JKS trust store: %w", err)
			}
		}
		return storeJKS(ks, password)
	case PEM:
		var b bytes.Buffer
		for _, c := range certs {
			pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		}
		return b.Bytes(), nil
	}
	return nil, fmt.Errorf("certgen: unknown store type %q (want PKCS12, JKS or PEM)", typ)
}

func storeJKS(ks keystore.KeyStore, password string) ([]byte, error) {
	var b bytes.Buffer
	if err := ks.Store(&b, []byte(password)); err != nil {
		return nil, fmt.Errorf("certgen: JKS store: %w", err)
	}
	return b.Bytes(), nil
}

// WriteKeyStore writes KeyStore(typ, leaf, password) to path (mode 0600).
func WriteKeyStore(path, typ string, leaf *Leaf, password string) error {
	b, err := KeyStore(typ, leaf, password)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("certgen: %w", err)
	}
	return nil
}

// WriteTrustStore writes TrustStore(typ, certs, password) to path.
func WriteTrustStore(path, typ string, certs []*x509.Certificate, password string) error {
	b, err := TrustStore(typ, certs, password)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("certgen: %w", err)
	}
	return nil
}

// Ext is the file name extension upstream infers a store's type from
// when ssl.*.type is not set.
func Ext(typ string) string {
	switch typ {
	case PKCS12:
		return ".p12"
	case JKS:
		return ".jks"
	}
	return ".pem"
}
