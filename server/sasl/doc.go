// Package sasl is SASL as ZooKeeper uses it: the DIGEST-MD5 mechanism
// (RFC 2831, quality of protection "auth" only), server and client side,
// and the JAAS login configuration files from which upstream reads the
// credentials (java.security.auth.login.config).
//
// Upstream's server runs javax.security.sasl's DIGEST-MD5 with protocol
// "zookeeper" and server name "zk-sasl-md5" (the realm it offers), on
// client connections (the sasl request, opcode 102) and, with
// quorum.auth.enableSasl, on every connection between servers. The
// authenticated id is the user name the client logged in with; upstream's
// SaslServerCallbackHandler makes it the ACL id sasl:<user>.
//
// Kerberos (GSSAPI) is not implemented: a JAAS section whose login module
// is Kerberos's is refused by Credentials and LoginUser with an error that
// says so.
package sasl
