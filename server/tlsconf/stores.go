package tlsconf

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// errWrongPassword is what every store type says when the password does
// not open it.
var errWrongPassword = errors.New("wrong password")

func (s storeSettings) read() ([]byte, error) {
	b, err := os.ReadFile(s.location)
	if err != nil {
		return nil, &Error{Key: s.key("location"), File: s.location, Reason: err.Error(), Err: err}
	}
	return b, nil
}

// fail is the error of a store that was read but cannot be used.
func (s storeSettings) fail(err error) error {
	if errors.Is(err, errWrongPassword) {
		return &Error{Key: s.passwordKey, File: s.location, Reason: "wrong password: the " + s.typ + " store cannot be opened with it", Err: err}
	}
	return &Error{Key: s.key("location"), File: s.location, Reason: fmt.Sprintf("not a usable %s %s: %v", s.typ, s.kind, err), Err: err}
}

// loadKeyStore reads the key store's private key and its certificate chain.
func loadKeyStore(s storeSettings) (*tls.Certificate, error) {
	data, err := s.read()
	if err != nil {
		return nil, err
	}
	var key any
	var chain []*x509.Certificate
	switch s.typ {
	case "PKCS12":
		var leaf *x509.Certificate
		var cas []*x509.Certificate
		key, leaf, cas, err = pkcs12.DecodeChain(data, s.password)
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			err = errWrongPassword
		}
		chain = append([]*x509.Certificate{leaf}, cas...)
	case "JKS":
		key, chain, err = decodeJKSKey(data, s.password)
	case "PEM":
		key, chain, err = decodePEMKey(data)
	}
	if err != nil {
		return nil, s.fail(err)
	}
	pub, ok := key.(interface{ Public() crypto.PublicKey })
	if !ok {
		return nil, s.fail(fmt.Errorf("unsupported private key type %T", key))
	}
	if eq, ok := pub.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(chain[0].PublicKey) {
		return nil, s.fail(fmt.Errorf("the private key does not belong to certificate %q", ClientID(chain[0])))
	}
	cert := &tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return cert, nil
}

// loadTrustStore reads the trust store's certificates.
func loadTrustStore(s storeSettings) ([]*x509.Certificate, error) {
	data, err := s.read()
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	switch s.typ {
	case "PKCS12":
		certs, err = pkcs12.DecodeTrustStore(data, s.password)
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			err = errWrongPassword
		}
	case "JKS":
		certs, err = decodeJKSTrust(data, s.password)
	case "PEM":
		_, certs, err = pemBlocks(data)
	}
	if err == nil && len(certs) == 0 {
		err = errors.New("it holds no certificates")
	}
	if err != nil {
		return nil, s.fail(err)
	}
	return certs, nil
}

func loadJKS(data []byte, password string) (keystore.KeyStore, error) {
	ks := keystore.New(keystore.WithOrderedAliases())
	if err := ks.Load(bytes.NewReader(data), []byte(password)); err != nil {
		if err.Error() == "got invalid digest" { // the store's integrity check, keyed by the password
			return ks, errWrongPassword
		}
		return ks, err
	}
	return ks, nil
}

// decodeJKSKey returns the first private key entry, decrypted with the
// store's password (upstream opens keys with it too).
func decodeJKSKey(data []byte, password string) (any, []*x509.Certificate, error) {
	ks, err := loadJKS(data, password)
	if err != nil {
		return nil, nil, err
	}
	for _, alias := range ks.Aliases() {
		if !ks.IsPrivateKeyEntry(alias) {
			continue
		}
		e, err := ks.GetPrivateKeyEntry(alias, []byte(password))
		if err != nil {
			return nil, nil, fmt.Errorf("key %q: %w", alias, err)
		}
		key, err := x509.ParsePKCS8PrivateKey(e.PrivateKey)
		if err != nil {
			return nil, nil, fmt.Errorf("key %q: %w", alias, err)
		}
		var chain []*x509.Certificate
		for _, c := range e.CertificateChain {
			cert, err := x509.ParseCertificate(c.Content)
			if err != nil {
				return nil, nil, fmt.Errorf("key %q: certificate: %w", alias, err)
			}
			chain = append(chain, cert)
		}
		if len(chain) == 0 {
			return nil, nil, fmt.Errorf("key %q has no certificate", alias)
		}
		return key, chain, nil
	}
	return nil, nil, errors.New("it holds no private key")
}

func decodeJKSTrust(data []byte, password string) ([]*x509.Certificate, error) {
	ks, err := loadJKS(data, password)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for _, alias := range ks.Aliases() {
		if !ks.IsTrustedCertificateEntry(alias) {
			continue
		}
		e, err := ks.GetTrustedCertificateEntry(alias)
		if err != nil {
			return nil, fmt.Errorf("certificate %q: %w", alias, err)
		}
		c, err := x509.ParseCertificate(e.Certificate.Content)
		if err != nil {
			return nil, fmt.Errorf("certificate %q: %w", alias, err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// decodePEMKey reads an unencrypted private key and its chain, in any
// order.
func decodePEMKey(data []byte) (any, []*x509.Certificate, error) {
	key, certs, err := pemBlocks(data)
	if err != nil {
		return nil, nil, err
	}
	if key == nil {
		return nil, nil, errors.New("it holds no private key")
	}
	if len(certs) == 0 {
		return nil, nil, errors.New("it holds no certificate")
	}
	return key, certs, nil
}

func pemBlocks(data []byte) (any, []*x509.Certificate, error) {
	var key any
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		var err error
		switch b.Type {
		case "CERTIFICATE":
			var c *x509.Certificate
			if c, err = x509.ParseCertificate(b.Bytes); err == nil {
				certs = append(certs, c)
			}
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			err = errors.New("encrypted PEM private keys are not supported by this server: use an unencrypted key or a PKCS12 store")
		}
		if err != nil {
			return nil, nil, fmt.Errorf("PEM %s: %w", b.Type, err)
		}
	}
	return key, certs, nil
}
