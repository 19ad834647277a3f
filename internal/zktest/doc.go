// Package zktest starts ZooKeeper servers for tests — upstream Java
// ZooKeeper from Debian's zookeeper package, and the Go server in-process
// or as a real zkserver process — and offers a raw protocol client for the
// operations go-zookeeper/zk does not expose. Every server a test starts is
// stopped in t.Cleanup, by PID, even when the test fails.
package zktest
