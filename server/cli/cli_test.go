package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zkbench/zkbench/server/replica"
	"github.com/zkbench/zkbench/server/tree"
)

// TestPurgeKeepsRetainNewest: zkserver purge removes all but the --retain
// newest snapshots of the dataDir zoo.cfg names.
func TestPurgeKeepsRetainNewest(t *testing.T) {
	dir := t.TempDir()
	snaps := filepath.Join(dir, "version-2")
	if err := os.MkdirAll(snaps, 0o755); err != nil {
		t.Fatal(err)
	}
	for z := int64(1); z <= 5; z++ {
		if _, err := replica.WriteSnapshot(snaps, tree.New(), map[int64]int32{}, z); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfg, []byte("tickTime=2000\ndataDir="+dir+"\nclientPort=2181\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := NewCommand("zkserver")
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"purge", cfg, "--retain", "3"})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("purge: %v\n%s", err, out.String())
	}
	left, _ := filepath.Glob(filepath.Join(snaps, "snapshot.*"))
	if len(left) != 3 || !strings.Contains(out.String(), "purged 2 files") {
		t.Fatalf("after purge --retain 3 of 5 snapshots: %v\n%s", left, out.String())
	}
}
