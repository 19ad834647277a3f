package results

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServersRoundTrip: the server series goes to servers.csv (described in
// result.json) and comes back equal, unknown figures included; a large log
// is kept gzipped, a small config as it is.
func TestServersRoundTrip(t *testing.T) {
	r := sample(t)
	nan := math.NaN()
	samples := []ServerSample{
		{At: -500 * time.Millisecond, ID: 1, Role: "leader", Up: true, PID: 42, Outstanding: 3, AvgLatencyMs: 1.5, MaxLatencyMs: 20, FsyncCount: 100, FsyncMs: 250.5, Znodes: 12, Connections: 4, Sessions: nan, CPUSeconds: 1.25, RSSKiB: 51200},
		{At: time.Second, ID: 2, Role: "down", Outstanding: nan, AvgLatencyMs: nan, MaxLatencyMs: nan, FsyncCount: nan, FsyncMs: nan, Znodes: nan, Connections: nan, Sessions: nan, CPUSeconds: nan, RSSKiB: nan},
	}
	bigLog := []byte(strings.Repeat("2026-12-06 INFO something happened\n", 10000))
	r.Servers = &Servers{
		File: ServersCSVFile, Source: "mntr", Interval: time.Second, Columns: ServerColumns, Samples: samples,
		Files:    []ServerFile{KeepServerFile(1, "server.log", bigLog), KeepServerFile(1, "zoo.cfg", []byte("tickTime=2000\n"))},
		Problems: []ServerProblem{{At: time.Second, ID: 2, Kind: ProblemDiskFull, Disk: "/mnt/x (tmpfs)", Detail: "No space left on device"}},
	}
	dir := t.TempDir()
	if err := Write(dir, r); err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(filepath.Join(dir, JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Servers struct {
			File    string
			Columns []Column
		} `json:"servers"`
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Servers.File != ServersCSVFile || len(doc.Servers.Columns) != len(ServerColumns) {
		t.Fatalf("result.json does not describe %s: %+v", ServersCSVFile, doc.Servers)
	}
	got, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Servers == nil || len(got.Servers.Samples) != 2 {
		t.Fatalf("samples read back: %+v", got.Servers)
	}
	a, b := got.Servers.Samples[0], got.Servers.Samples[1]
	if a.At != samples[0].At || a.ID != 1 || a.Role != "leader" || !a.Up || a.PID != 42 || a.FsyncMs != 250.5 || a.RSSKiB != 51200 || !math.IsNaN(a.Sessions) {
		t.Errorf("sample 0 read back as %+v", a)
	}
	if b.Up || b.Role != "down" || !math.IsNaN(b.Outstanding) || !math.IsNaN(b.CPUSeconds) {
		t.Errorf("sample 1 read back as %+v", b)
	}
	if len(got.Servers.Problems) != 1 || got.Servers.Problems[0].Disk != "/mnt/x (tmpfs)" {
		t.Errorf("problems read back: %+v", got.Servers.Problems)
	}
	f, err := os.Open(filepath.Join(dir, "servers", "server-1", "server.log.gz"))
	if err != nil {
		t.Fatalf("the large log is not kept gzipped: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(data, bigLog) {
		t.Errorf("gzipped log differs (%d bytes, err %v)", len(data), err)
	}
	if cfg, err := os.ReadFile(filepath.Join(dir, "servers", "server-1", "zoo.cfg")); err != nil || string(cfg) != "tickTime=2000\n" {
		t.Errorf("zoo.cfg kept as %q, %v", cfg, err)
	}
}
