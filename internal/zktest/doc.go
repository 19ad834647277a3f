// Package zktest starts ZooKeeper servers for tests — upstream Java
// ZooKeeper from Debian's zookeeper package, and the Go server in-process
// or as a real zkserver process — and offers a raw protocol client for the
// operations go-zookeeper/zk does not expose. It is a thin test layer over
// package harness: every server process is launched with harness.Command
// (the harness's command lines, process attributes and Java logging; no
// CPU share), ports come from a harness.PortPicker, and upstream Java
// ZooKeeper and the zkserver binary are found and built by internal/zkbin,
// so that a missing Java goes through internal/testenv.Missing and a failed
// build fails the test. Every server a test starts is stopped in
// t.Cleanup, by PID, even when the test fails.
package zktest
