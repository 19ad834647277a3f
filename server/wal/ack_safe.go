//go:build !zkbench_unsafe_ack

package wal

// logSync is what Log.Sync calls to make the log durable: fdatasync. The
// zkbench_unsafe_ack build tag replaces it (see ack_unsafe.go).
var logSync = fdatasync

// syncWritesDirect: with ForceSync, log files are written with O_DIRECT,
// since every write is about to be fsynced anyway (decisions #38).
const syncWritesDirect = true
