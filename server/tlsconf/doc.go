// Package tlsconf turns upstream ZooKeeper's TLS settings into crypto/tls
// configurations: the ssl.* keys (client port) and ssl.quorum.* keys
// (server to server) that upstream's X509Util reads, from zoo.cfg or -D
// flags, as config.Config.Property returns them (zookeeper.ssl.*).
//
// Load reads the key and trust stores (PKCS12, JKS or PEM; the type from
// ssl.keyStore.type or else the file's extension, as upstream), checks
// them and returns Material: Server for a listener, Client for a dialler.
// Everything wrong is found at Load, so a server refuses to start rather
// than fail every handshake later: a missing or unreadable file, a wrong
// password, a certificate outside its validity period, and (ssl.quorum.*,
// where every peer checks the others against the same trust store) a key
// store certificate the trust store does not trust. Each *Error names the
// key, the file and the reason.
//
// Upstream's defaults are kept: ssl.protocol TLSv1.2 and only it enabled,
// ssl.clientAuth need, ssl.hostnameVerification true. A client checks the
// server's name; a server checks a client's address against its
// certificate only for quorum connections (upstream's
// QuorumX509Util.shouldVerifyClientHostname), which CheckPeerHost does.
// Cipher suites Go does not implement are left out with a warning; TLS 1.3
// suites are not configurable in Go and are always on.
//
// ClientID is upstream's X509AuthenticationProvider's id for a client
// certificate: its subject in RFC 2253 form as Java prints it.
package tlsconf
