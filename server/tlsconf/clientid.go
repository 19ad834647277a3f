package tlsconf

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"strings"
)

// rfc2253Keywords are the attribute types Java's
// X500Principal.getName() (RFC 2253) writes by keyword; any other is
// written as its OID and the hex of its DER value.
var rfc2253Keywords = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.9":                    "STREET",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1":  "UID",
}

// ClientID is the id upstream's X509AuthenticationProvider gives a client
// certificate (scheme x509): its subject as Java's
// X500Principal.getName() writes it, e.g. "CN=client,OU=bench,O=zkbench".
func ClientID(c *x509.Certificate) string {
	var rdns pkix.RDNSequence
	if _, err := asn1.Unmarshal(c.RawSubject, &rdns); err != nil {
		return c.Subject.String()
	}
	parts := make([]string, 0, len(rdns))
	for i := len(rdns) - 1; i >= 0; i-- {
		avas := make([]string, 0, len(rdns[i]))
		for _, ava := range rdns[i] {
			avas = append(avas, formatAVA(ava))
		}
		parts = append(parts, strings.Join(avas, "+"))
	}
	return strings.Join(parts, ",")
}

func formatAVA(ava pkix.AttributeTypeAndValue) string {
	kw, ok := rfc2253Keywords[ava.Type.String()]
	s, isString := ava.Value.(string)
	if !ok || !isString {
		der, err := asn1.Marshal(ava.Value)
		if err != nil {
			return fmt.Sprintf("%s=#", ava.Type)
		}
		return ava.Type.String() + "=#" + hex.EncodeToString(der)
	}
	return kw + "=" + escapeRFC2253(s)
}

// escapeRFC2253 escapes as Java's AVA.toRFC2253String: the special
// characters anywhere, a space at either end.
func escapeRFC2253(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case strings.ContainsRune(`,=+<>#;"\`, r):
			b.WriteByte('\\')
		case r == ' ' && (i == 0 || i == len(s)-1):
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
