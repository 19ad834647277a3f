// Package config reads a ZooKeeper server's configuration exactly as
// upstream ZooKeeper 3.8 does: zoo.cfg in java.util.Properties syntax (with
// its ISO-8859-1 bytes, comments, continuations and escapes), the optional
// dynamic configuration file, dataDir/myid, and the -D flags that
// zkServer.sh passes from SERVER_JVMFLAGS and JVMFLAGS.
//
// The contract:
//
//   - Load and Parse accept what upstream QuorumPeerConfig accepts and
//     reject what it rejects, with an *Error that names the file, the line
//     (when one line is to blame) and the key. The few deliberate
//     departures are stricter: duplicate server ids and shared quorum or
//     election addresses, negative tickTime/initLimit/syncLimit, no client
//     port at all, a myid not listed among the servers of a quorum (upstream
//     fails later, at start-up), hierarchical quorums and multi-address
//     server lines (not supported by this server), and the refused keys
//     below.
//   - Keys that are not settings become system properties named
//     "zookeeper.<key>", overriding -D flags of the same name, as upstream's
//     System.setProperty does. Typed fields derived from such properties
//     (SnapCount, PreAllocSize, ForceSync, LeaderServes, FourLetterWords)
//     follow upstream's parsing of them, invalid values included.
//   - Every key acts, or says it does not. The key table (keys.go, one row
//     per key or key family) says what each zoo.cfg key and -D property
//     does here: acts; ignored, with exactly one warning naming the key;
//     or refused: a security feature this server lacks (SASL between
//     servers, authentication providers beyond digest, ip, x509 and
//     sasl) or local sessions in an ensemble, which makes Load
//     fail with an *Error naming file:line and key (or the -D flag and
//     its variable) unless the value asks for nothing (sslQuorum=false).
//     The server never starts without security the configuration asks
//     for, and a secure client port never becomes a plaintext one.
//   - Questionable input that upstream accepts is accepted and reported in
//     Config.Warnings (for the caller to log).
//   - Marshal renders a zoo.cfg that Load parses back to an equal Config
//     and that upstream accepts.
//
// The package does no DNS lookups and binds nothing.
package config
