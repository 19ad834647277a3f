package server_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/internal/zktest"
)

// Crash tests with real processes and real kill -9: under a continuous
// write load, every write a client saw acknowledged must be there, with its
// last acknowledged value, after the server comes back.

const crashKeys = 8

// ackLog records, per key, the last value a client saw acknowledged and the
// value in flight (written but not yet acknowledged) when the server died.
type ackLog struct {
	mu       sync.Mutex
	acked    [crashKeys]int
	inflight [crashKeys]int
}

func keyPath(k int) string { return fmt.Sprintf("/crash/k%d", k) }

// writeUntilDead runs one writer per key, each setting its key to 1, 2, 3 ...
// until a write fails (the server died), and records what was acknowledged.
func writeUntilDead(t *testing.T, addr string, acks *ackLog) {
	c, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Close()
	var wg sync.WaitGroup
	for k := 0; k < crashKeys; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			acks.mu.Lock()
			v := acks.acked[k]
			acks.mu.Unlock()
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
				v++
				acks.mu.Lock()
				acks.inflight[k] = v
				acks.mu.Unlock()
				if _, err := c.Set(keyPath(k), []byte(strconv.Itoa(v)), -1); err != nil {
					return
				}
				acks.mu.Lock()
				acks.acked[k] = v
				acks.mu.Unlock()
			}
		}(k)
	}
	wg.Wait()
}

// values reads every key from a fresh session.
func values(t *testing.T, addr string) [crashKeys]int {
	t.Helper()
	c := connect(t, addr)
	defer c.Close()
	var out [crashKeys]int
	for k := 0; k < crashKeys; k++ {
		data, _, err := c.Get(keyPath(k))
		if err != nil {
			t.Fatalf("get %s after restart: %v", keyPath(k), err)
		}
		out[k], _ = strconv.Atoi(string(data))
	}
	return out
}

func setupKeys(t *testing.T, addr string) {
	c := connect(t, addr)
	defer c.Close()
	open := zk.WorldACL(zk.PermAll)
	c.Create("/crash", nil, 0, open)
	for k := 0; k < crashKeys; k++ {
		if _, err := c.Create(keyPath(k), []byte("0"), 0, open); err != nil {
			t.Fatalf("create %s: %v", keyPath(k), err)
		}
	}
}

func TestIntegrationCrashKill9LosesNoAcknowledgedWrite(t *testing.T) {
	cycles := 20
	if testing.Short() {
		cycles = 5
	}
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)
	p := zktest.StartProcess(t, "preAllocSize=1024")
	setupKeys(t, p.Addr)
	acks := &ackLog{}
	for cycle := 1; cycle <= cycles; cycle++ {
		done := make(chan struct{})
		go func() { writeUntilDead(t, p.Addr, acks); close(done) }()
		time.Sleep(time.Duration(30+rng.Intn(250)) * time.Millisecond)
		p.Kill()
		<-done
		p.Start()
		got := values(t, p.Addr)
		acks.mu.Lock()
		for k := 0; k < crashKeys; k++ {
			if got[k] != acks.acked[k] && got[k] != acks.inflight[k] {
				t.Errorf("cycle %d (seed %d): key %d = %d, last acknowledged %d (in flight %d)",
					cycle, seed, k, got[k], acks.acked[k], acks.inflight[k])
			}
			acks.acked[k] = got[k] // the next cycle continues from what survived
		}
		acks.mu.Unlock()
		if t.Failed() {
			t.Fatalf("acknowledged writes lost; server log:\n%s", p.LogText(p.Starts()))
		}
	}
	total := 0
	for _, v := range acks.acked {
		total += v
	}
	t.Logf("%d kill -9 cycles, %d acknowledged writes checked, 0 lost", cycles, total)
}

// lastLogFile returns the newest log file of a data dir.
func lastLogFile(t *testing.T, dataDir string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dataDir, "version-2", "log.*"))
	if len(files) == 0 {
		t.Fatal("no log files")
	}
	sort.Slice(files, func(i, j int) bool {
		a, _ := strconv.ParseUint(strings.TrimPrefix(filepath.Base(files[i]), "log."), 16, 64)
		b, _ := strconv.ParseUint(strings.TrimPrefix(filepath.Base(files[j]), "log."), 16, 64)
		return a < b
	})
	return files[len(files)-1]
}

// lastRecord finds the offset and length of the last record in a log file
// (upstream format: 16-byte file header; records of checksum(8) len(4)
// payload 'B'; zeros after the last one).
func lastRecord(t *testing.T, b []byte) (off, n int) {
	t.Helper()
	pos, last, lastLen := 16, -1, 0
	for pos+12 <= len(b) {
		l := int(binary.BigEndian.Uint32(b[pos+8:]))
		if l <= 0 || pos+12+l+1 > len(b) || binary.BigEndian.Uint64(b[pos:]) == 0 {
			break
		}
		last, lastLen = pos, 12+l+1
		pos += lastLen
	}
	if last < 0 {
		t.Fatal("no record in log file")
	}
	return last, lastLen
}

// A torn tail — truncated mid-record or with a flipped byte — is cut back
// to the last valid record; everything before it survives, and the server
// serves again.
func TestIntegrationCrashTornTail(t *testing.T) {
	for _, damage := range []string{"truncated mid-record", "flipped byte"} {
		t.Run(damage, func(t *testing.T) {
			p := zktest.StartProcess(t, "preAllocSize=1024")
			setupKeys(t, p.Addr)
			acks := &ackLog{}
			done := make(chan struct{})
			go func() { writeUntilDead(t, p.Addr, acks); close(done) }()
			time.Sleep(150 * time.Millisecond)
			p.Kill()
			<-done
			path := lastLogFile(t, filepath.Join(p.Dir, "data"))
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			off, n := lastRecord(t, b)
			// The last record's key and value: the txn ends with its data.
			payload := b[off+12 : off+n-1]
			var damagedKey = -1
			for k := 0; k < crashKeys; k++ {
				if bytes.Contains(payload, []byte(keyPath(k))) {
					damagedKey = k
				}
			}
			switch damage {
			case "truncated mid-record":
				if err := os.Truncate(path, int64(off+n/2)); err != nil {
					t.Fatal(err)
				}
			case "flipped byte":
				b[off+n/2] ^= 0x40
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			p.Start()
			if !strings.Contains(p.LogText(2), "torn tail") {
				t.Errorf("restart did not report the torn tail; log:\n%s", p.LogText(2))
			}
			got := values(t, p.Addr)
			for k := 0; k < crashKeys; k++ {
				ok := got[k] == acks.acked[k] || got[k] == acks.inflight[k]
				if k == damagedKey {
					// Its last record was destroyed on purpose: one step back.
					ok = ok || got[k] == acks.acked[k]-1 || got[k] == acks.inflight[k]-1
				}
				if !ok {
					t.Errorf("key %d = %d, acknowledged %d, in flight %d (damaged key %d)", k, got[k], acks.acked[k], acks.inflight[k], damagedKey)
				}
			}
			// And it keeps taking writes.
			c := connect(t, p.Addr)
			if _, err := c.Set(keyPath(0), []byte("after"), -1); err != nil {
				t.Fatalf("write after repair: %v", err)
			}
		})
	}
}
