package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/server"
	"github.com/zkbench/zkbench/server/config"
)

func TestParseConnect(t *testing.T) {
	for _, tc := range []struct {
		in      string
		servers []string
		root    string
		err     string
	}{
		{"h1:2181", []string{"h1:2181"}, DefaultRoot, ""},
		{"h1:2181,h2:2182/bench/a", []string{"h1:2181", "h2:2182"}, "/bench/a", ""},
		{"h1:2181/x/", []string{"h1:2181"}, "/x", ""},
		{"/x", nil, "", "names no server"},
		{"h1:2181/", nil, "", "cannot be /"},
	} {
		s, r, err := ParseConnect(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || fmt.Sprint(s) != fmt.Sprint(tc.servers) || r != tc.root {
			t.Errorf("%q: %v %q %v, want %v %q", tc.in, s, r, err, tc.servers, tc.root)
		}
	}
}

// startServer runs a standalone Go server in this process and returns a
// session to it.
func startServer(t *testing.T) *zk.Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "zoo.cfg")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("tickTime=500\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n", dir, port)), 0o644)
	cfg, err := config.Load(cfgPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		server.Run(ctx, cfg, server.Options{Logger: slog.New(slog.DiscardHandler)})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if i > 100 {
			t.Fatal("server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	conn, _, err := zk.Connect([]string{addr}, 4*time.Second, zk.WithLogger(quiet{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}

// A report larger than jute.maxbuffer travels in chunks and comes back
// whole, histograms included.
func TestReportChunksRoundTrip(t *testing.T) {
	conn := startServer(t)
	l := Layout{Root: "/t/chunks"}
	if err := Ensure(conn, l); err != nil {
		t.Fatal(err)
	}
	if err := EnsureRun(conn, l, "r1"); err != nil {
		t.Fatal(err)
	}
	h := results.NewHistogram(results.IntervalDigits)
	rep := &Report{Agent: "a1", Intervals: map[int64][]byte{}, Error: "x"}
	for i := range int64(300) {
		h.RecordValue(1000 + i*7919%5_000_000)
		b, err := EncodeHist(h)
		if err != nil {
			t.Fatal(err)
		}
		rep.Intervals[i] = b
	}
	// Incompressible bytes make sure of several chunks.
	noise := make([]byte, 2<<20)
	rand.Read(noise)
	rep.Error = base64.StdEncoding.EncodeToString(noise)
	if err := WriteReport(conn, l, "r1", rep); err != nil {
		t.Fatal(err)
	}
	hb, _, _ := conn.Get(l.Report("r1", "a1"))
	if !bytes.Contains(hb, []byte(`"chunks":`)) {
		t.Fatalf("header %s", hb)
	}
	chunks, _, _ := conn.Children(l.Chunks("r1", "a1"))
	back, err := ReadReport(conn, l, "r1", "a1")
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Intervals) != len(rep.Intervals) || !bytes.Equal(back.Intervals[299], rep.Intervals[299]) {
		t.Fatalf("report came back with %d intervals", len(back.Intervals))
	}
	last, err := DecodeHist(back.Intervals[299])
	if err != nil || !last.Equals(h) {
		t.Fatalf("last histogram differs (%v)", err)
	}
	if len(chunks) < 3 || back.Error != rep.Error {
		t.Fatalf("a %d-byte report in %d chunks came back with a %d-byte error string", len(rep.Error), len(chunks), len(back.Error))
	}
	t.Logf("report in %d chunks (%s)", len(chunks), hb)
	if _, err := ReadReport(conn, l, "r1", "nobody"); err != ErrNotFound {
		t.Fatalf("missing report: %v", err)
	}
	if err := DeleteTree(conn, l.Run("r1")); err != nil {
		t.Fatal(err)
	}
}
