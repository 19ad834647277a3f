// Package flw speaks ZooKeeper's four-letter words (srvr, mntr, stat, ruok)
// and parses their replies.
//
// It exists because the replies of real servers do not always match what
// client libraries expect: Debian's ZooKeeper 3.8.0 reports its version as
// "3.8.0-${mvngit.commit.id}, built on 2022-02-25 08:49 UTC", which
// go-zookeeper/zk's FLWSrvr rejects. This parser is lenient about the version
// and build date (kept as text) and strict about the numbers it returns.
//
// Contract: every call opens one TCP connection, writes the word, reads until
// the server closes the connection or the timeout expires, and closes it.
// A server that is up but not serving (for example during leader election)
// answers srvr with a fixed sentence; Srvr then returns ErrNotServing.
package flw
