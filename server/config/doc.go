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
//     server lines (not supported by this server).
//   - Keys that are not settings become system properties named
//     "zookeeper.<key>", overriding -D flags of the same name, as upstream's
//     System.setProperty does. Typed fields derived from such properties
//     (SnapCount, PreAllocSize, ForceSync, LeaderServes, FourLetterWords)
//     follow upstream's parsing of them, invalid values included.
//   - Questionable input that upstream accepts is accepted and reported in
//     Config.Warnings (for the caller to log).
//   - Marshal renders a zoo.cfg that Load parses back to an equal Config
//     and that upstream accepts.
//
// The package does no DNS lookups and binds nothing.
package config
