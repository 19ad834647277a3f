package config

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/zkbench/zkbench/server/durable"

	"github.com/zkbench/zkbench/server/quorum"
)

// DynamicFileName is where upstream keeps the configuration of version v:
// beside the static file, "<zoo.cfg>.dynamic.<hex version>".
func DynamicFileName(staticPath string, v int64) string {
	return fmt.Sprintf("%s.dynamic.%x", staticPath, v)
}

// WriteDynamic stores m as upstream does when a configuration takes
// effect (QuorumPeer.setQuorumVerifier): the server lines, sorted, in
// DynamicFileName(staticPath, m.Version); then the static file loses its
// membership lines (server.N, peerType, an older dynamicConfigFile, and
// clientPort/clientPortAddress when myID's server line carries a client
// address) and points at the new file. Both files are replaced atomically.
// It returns the dynamic file's path.
func WriteDynamic(staticPath string, myID int64, m quorum.Members) (string, error) {
	dynPath := DynamicFileName(staticPath, m.Version)
	var lines []string
	for _, id := range slices.Sorted(maps.Keys(m.Servers)) {
		lines = append(lines, fmt.Sprintf("server.%d=%s", id, m.Servers[id].Spec()))
	}
	// Upstream sorts the lines as strings (server.10 before server.2).
	slices.Sort(lines)
	if err := writeAtomically(dynPath, []byte(strings.Join(lines, "\n"))); err != nil {
		return "", err
	}
	old, err := os.ReadFile(staticPath)
	if err != nil {
		return "", fmt.Errorf("config: rewriting %s: %w", staticPath, err)
	}
	eraseClient := m.Servers[myID].ClientPort != 0
	abs, err := filepath.Abs(dynPath)
	if err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	var out bytes.Buffer
	entries, err := readProperties(old)
	if err != nil {
		return "", fmt.Errorf("config: rewriting %s: %w", staticPath, err)
	}
	for _, e := range entries {
		key := javaTrim(e.Key)
		switch {
		case strings.HasPrefix(key, "server."), strings.HasPrefix(key, "group"), strings.HasPrefix(key, "weight"),
			strings.HasPrefix(key, "dynamicConfigFile"), strings.HasPrefix(key, "peerType"):
			continue
		case eraseClient && strings.HasPrefix(key, "clientPort"):
			continue
		}
		fmt.Fprintf(&out, "%s=%s\n", escapeKey(key), escapeValue(javaTrim(e.Value)))
	}
	fmt.Fprintf(&out, "dynamicConfigFile=%s\n", escapeValue(abs))
	if err := writeAtomically(staticPath, out.Bytes()); err != nil {
		return "", err
	}
	return dynPath, nil
}

// BackupStatic copies the static file to "<zoo.cfg>.bak", as upstream does
// when it starts a quorum member with reconfigEnabled and no dynamic file
// yet (QuorumPeerConfig.backupOldConfig): the first configuration that
// takes effect rewrites the static file.
func BackupStatic(staticPath string) error {
	data, err := os.ReadFile(staticPath)
	if err != nil {
		return fmt.Errorf("config: backing up %s: %w", staticPath, err)
	}
	return writeAtomically(staticPath+".bak", data)
}

// writeAtomically replaces path with data durably: a synced temporary
// file renamed over it, and the directory synced; every failure, the
// directory fsync's included, is returned. The file is mode 0600.
func writeAtomically(path string, data []byte) error {
	if err := durable.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}
