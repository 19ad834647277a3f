package server_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// allowedImports is the dependency direction of the server's packages:
// for each package under server/, the other server packages it may import.
// A request runs wire -> request -> txn -> log -> apply (clientconn ->
// txnprep -> wal or zab -> replica), but no stage imports the next: each
// depends only on the vocabulary below it (proto, tree, quorum), and the
// drivers (standalone, peer) and the assembly (server) wire the stages
// together. A package added under server/ must be given a row here.
var allowedImports = map[string][]string{
	// The vocabulary: wire records, the znode tree, the membership.
	"proto":   {},
	"quorum":  {},
	"durable": {},
	"tree":    {"proto"},
	"session": {},

	// Metrics: upstream's names on the hot paths (Prometheus), imported by
	// the stages that record them.
	"metrics": {},

	// TLS settings (ssl.*, ssl.quorum.*) -> crypto/tls, used by the
	// listeners and dialers of the stages that hold connections.
	"tlsconf": {},

	// SASL (DIGEST-MD5 and JAAS files), used by the client side and the
	// peer connections.
	"sasl": {},

	// The stages. None imports another stage or the drivers.
	"clientconn": {"metrics", "proto", "sasl", "tree", "tlsconf"},           // wire: client connections
	"txnprep":    {"proto", "tree", "quorum"},                               // request -> txn
	"wal":        {"durable", "metrics"},                                    // log (standalone)
	"snap":       {"durable", "proto"},                                      // snapshots
	"election":   {},                                                        // replication: leader election
	"zab":        {"proto"},                                                 // replication: log agreement
	"transport":  {"proto", "sasl", "tlsconf"},                              // peer connections
	"reaper":     {"proto"},                                                 // when to delete containers
	"replica":    {"proto", "tree", "session", "txnprep", "reaper", "snap"}, // apply
	"config":     {"durable", "quorum"},                                     // zoo.cfg

	// Data directories: recovery replays through the replica.
	"datadir": {"config", "metrics", "proto", "replica", "snap", "tree", "wal"},

	// The drivers: they order and log a replica's txns and answer
	// clientconn's Backend.
	"standalone": {"clientconn", "proto", "reaper", "replica", "tree", "txnprep"},
	"peer": {"clientconn", "config", "durable", "election", "metrics", "proto", "quorum", "reaper",
		"replica", "snap", "transport", "tree", "txnprep", "wal", "zab"},

	// The assembly and the command.
	"":    {"admin", "clientconn", "config", "datadir", "metrics", "peer", "reaper", "sasl", "standalone", "tlsconf", "transport", "tree", "wal", "zab"},
	"cli": {"", "config", "datadir"},

	// The AdminServer: HTTP commands over the client side's figures.
	"admin": {"clientconn", "config"},

	// The no-op bound server shares only the wire records.
	"noop": {"proto"},
}

// impure reports whether a standard package does I/O or reads the clock
// (net/netip only parses addresses).
func impure(imp string) bool {
	return imp == "net" || imp == "os" || imp == "time" || imp == "syscall" ||
		strings.HasPrefix(imp, "net/") && imp != "net/netip" || strings.HasPrefix(imp, "os/")
}

// pure are the packages that do no I/O and read no clock: times and
// randomness come in as arguments, so they run in-process, seeded.
var pure = []string{"proto", "quorum", "tree", "session", "txnprep", "election", "zab"}

// TestImportDirection keeps the server's package graph the one above: no
// package imports a server package its row does not list, every server
// package has a row, and the pure packages import no net, os or time.
func TestImportDirection(t *testing.T) {
	const module = "github.com/zkbench/zkbench/server"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		pkg := strings.TrimPrefix(strings.TrimPrefix(fields[0], module), "/")
		seen[pkg] = true
		allowed, ok := allowedImports[pkg]
		if !ok {
			t.Errorf("server/%s has no row in allowedImports: say which server packages it may import", pkg)
			continue
		}
		for _, imp := range fields[1:] {
			if slices.Contains(pure, pkg) && impure(imp) {
				t.Errorf("server/%s is pure but imports %s", pkg, imp)
			}
			if imp != module && !strings.HasPrefix(imp, module+"/") {
				continue
			}
			dep := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
			if !slices.Contains(allowed, dep) {
				t.Errorf("server/%s imports server/%s, against the dependency direction", pkg, dep)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for pkg := range allowedImports {
		if !seen[pkg] {
			t.Errorf("allowedImports has a row for server/%s, which go list does not list", pkg)
		}
	}
}
