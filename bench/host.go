package bench

import "github.com/zkbench/zkbench/results"

// MachineInfo describes this host as a result records it.
func MachineInfo() results.Machine { return machineInfo() }

// BuildInfo identifies this binary as a result records it; revision is used
// when the binary carries no VCS stamp.
func BuildInfo(revision string) results.Build { return buildInfo(revision) }
