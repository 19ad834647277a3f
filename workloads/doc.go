// Package workloads says what load to apply to a ZooKeeper ensemble: a Spec
// (operation mix, value size, key space, clients, outstanding requests per
// client, warm-up, duration, closed- or open-loop pacing, key distribution and
// seed), presets for the experiments zkbench reproduces, loading and saving
// specs as YAML or JSON, and seeded operation generators.
//
// Contract:
//
//   - Spec.Validate rejects a spec that cannot run (a percentage outside
//     0..100, zero clients, an unknown operation, a negative size, ...)
//     before anything starts; the error names the offending field and wraps
//     ErrInvalidSpec.
//   - A Generator is a pure function of (spec, client index): the same seed
//     yields the same sequence of operations for each client, whatever the
//     server answers or how fast, and different seeds yield different
//     sequences. Generators use no wall clock and no global randomness, and
//     Next does not allocate.
//   - The package does no network I/O; Load and Save touch only the named
//     file.
//
// The read/write mix follows ZooKeeper's own load generator
// (zookeeper-it GenerateLoad): reads are getData and writes are setData of
// ValueSize bytes. A Mix generalises that to weighted getData, setData,
// exists, getChildren, create/delete pairs and multi operations.
package workloads
