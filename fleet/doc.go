// Package fleet is the coordinator's side of a run driven from several
// machines: it finds the client agents registered in the coordination
// ZooKeeper, refuses agents of another zkbench version, plans contiguous
// session ranges, holds the start barrier (refusing to start when a
// clock skew exceeds a tenth of the series interval), decides an automatic
// warm-up on the sum of the agents' throughput (warmup.go, by bench's
// rule), watches the agents,
// and merges their reports exactly (histograms merged, never percentiles
// averaged) into one results.Result, as bench.Run would have returned for
// a run driven from one machine, plus a per-agent breakdown.
//
// HostServers places the ensemble under test on server agents, one server
// each (Go, or upstream Java on agents that announce they can run it), and
// returns its connection string; CheckServers checks the agents without
// placing anything; Hosted.Fault and RequestFault ask the agent hosting a
// server to kill, restart, freeze, thaw, partition or heal it.
//
// The protocol and the znode layout are package agent's.
package fleet
