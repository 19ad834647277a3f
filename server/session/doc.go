// Package session is a ZooKeeper server's session table: session ids,
// timeouts, expiry and passwords, as upstream SessionTrackerImpl,
// ExpiryQueue and ZooKeeperServer.generatePasswd have them.
//
// Expiry is counted the way upstream counts it: a session touched at time
// now with timeout T expires at the first tick boundary strictly after
// now+T ((now+T)/tick+1)*tick, and sessions are expired a whole bucket at a
// time once the clock reaches that boundary. The package is pure: the caller
// passes the time in (milliseconds on any monotonic scale) and polls Expired
// from its own loop. A Table is not safe for concurrent use; its owner (a
// replica.Replica) holds a lock around it.
package session
