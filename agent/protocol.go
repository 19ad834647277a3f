package agent

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/bench"
	"github.com/zkbench/zkbench/internal/version"
	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/workloads"
)

// DefaultRoot is the root of the layout when the connection string names
// no chroot.
const DefaultRoot = "/zkbench-agents"

// ChunkSize is the largest znode the protocol writes: half of the default
// jute.maxbuffer, leaving room for the request's own framing.
const ChunkSize = 512 << 10

// Roles an assignment may give.
const (
	// RoleClient runs a slice of the simulated sessions.
	RoleClient = "client"
	// RoleServer runs one server of the ensemble under test.
	RoleServer = "server"
)

// ParseConnect splits "host:port,host:port/chroot" into the servers and the
// root of the layout (DefaultRoot without a chroot).
func ParseConnect(s string) (servers []string, root string, err error) {
	hosts, chroot := s, ""
	if i := strings.IndexByte(s, '/'); i >= 0 {
		hosts, chroot = s[:i], s[i:]
	}
	for _, h := range strings.Split(hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			servers = append(servers, h)
		}
	}
	if len(servers) == 0 {
		return nil, "", fmt.Errorf("agent: connection string %q names no server: want host:port[,host:port...][/chroot]", s)
	}
	root = DefaultRoot
	if chroot != "" {
		root = path.Clean(chroot)
		if root == "/" {
			return nil, "", fmt.Errorf("agent: connection string %q: the chroot cannot be /", s)
		}
	}
	return servers, root, nil
}

// Layout names the znodes under one root: each method returns the path of
// the znode of that name in the layout of the package doc.
type Layout struct{ Root string }

func (l Layout) Agents() string                 { return l.Root + "/agents" }
func (l Layout) Agent(name string) string       { return l.Agents() + "/" + name }
func (l Layout) Assigns() string                { return l.Root + "/assign" }
func (l Layout) Assign(name string) string      { return l.Assigns() + "/" + name }
func (l Layout) Runs() string                   { return l.Root + "/runs" }
func (l Layout) Run(run string) string          { return l.Runs() + "/" + run }
func (l Layout) Coordinator(run string) string  { return l.Run(run) + "/coordinator" }
func (l Layout) ReadyDir(run string) string     { return l.Run(run) + "/ready" }
func (l Layout) Ready(run, name string) string  { return l.ReadyDir(run) + "/" + name }
func (l Layout) Start(run string) string        { return l.Run(run) + "/start" }
func (l Layout) Abort(run string) string        { return l.Run(run) + "/abort" }
func (l Layout) Chunks(run, name string) string { return l.Run(run) + "/chunks/" + name }
func (l Layout) Reports(run string) string      { return l.Run(run) + "/reports" }
func (l Layout) Report(run, name string) string { return l.Reports(run) + "/" + name }

// Automatic warm-up (see the package doc): /runs/<run>/warmup/<name> (the
// agent's WarmupCounts), /runs/<run>/measure (the coordinator's Measure).
func (l Layout) Warmups(run string) string      { return l.Run(run) + "/warmup" }
func (l Layout) Warmup(run, name string) string { return l.Warmups(run) + "/" + name }
func (l Layout) Measure(run string) string      { return l.Run(run) + "/measure" }

// Server role: /runs/<run>/ensemble (the coordinator's Ensemble, once every
// server agent has reported its ports), /runs/<run>/status/<name> (the
// agent's ServerStatus, updated while its server runs), /runs/<run>/faults/
// <name>/f-NNNNNNNNNN (sequential FaultRequests the agent carries out in
// order, setting each one's Done), /runs/<run>/stop (its presence stops
// the servers: the run is over).
func (l Layout) Ensemble(run string) string     { return l.Run(run) + "/ensemble" }
func (l Layout) StatusDir(run string) string    { return l.Run(run) + "/status" }
func (l Layout) Status(run, name string) string { return l.StatusDir(run) + "/" + name }
func (l Layout) FaultsDir(run string) string    { return l.Run(run) + "/faults" }
func (l Layout) Faults(run, name string) string { return l.FaultsDir(run) + "/" + name }
func (l Layout) Stop(run string) string         { return l.Run(run) + "/stop" }

// Facts describe an agent's host; the agent writes them to /agents/<name>.
type Facts struct {
	Name      string   `json:"name"`
	Hostname  string   `json:"hostname"`
	Addresses []string `json:"addresses"`
	Cores     int      `json:"cores"`
	Memory    int64    `json:"memory_bytes"`
	Version   string   `json:"version"`
	PID       int      `json:"pid"`
	Roles     []string `json:"roles"`
	// Java says whether the agent can run upstream Java ZooKeeper servers
	// and which (nil when it takes no server role).
	Java *JavaFacts `json:"java,omitempty"`
	// NetFaults says whether this host can apply network faults to a
	// server it hosts (nftables), and why not.
	NetFaults NetFaults `json:"net_faults"`
}

// Assignment is one agent's part of a run.
type Assignment struct {
	Run     string `json:"run"`
	Role    string `json:"role"`
	Version string `json:"version"` // the coordinator's zkbench version
	// Spec is the whole run's workload (Clients counts every agent's
	// sessions); Sessions is this agent's share.
	Spec      workloads.Spec     `json:"spec"`
	Sessions  bench.SessionRange `json:"sessions"`
	Targets   []bench.Target     `json:"targets"`
	Placement string             `json:"placement"`
	Interval  time.Duration      `json:"interval_ns"`
	// Setup says this agent creates the key space before it is ready.
	Setup bool `json:"setup"`
	// Server is the server role's part: which server this agent runs.
	Server *ServerAssignment `json:"server,omitempty"`
}

// ServerAssignment says which server of the ensemble under test an agent
// runs and with what settings; the peers' addresses come later, in the
// run's Ensemble.
type ServerAssignment struct {
	ID int `json:"id"`
	// Impl is the implementation: "go" (the agent's own Go server) or
	// "java" (upstream's, from the agent's ZooKeeper home).
	Impl string `json:"impl"`
	// JavaHeap is a Java server's maximum heap, as for -Xmx (default
	// harness's).
	JavaHeap     string            `json:"java_heap,omitempty"`
	TickTime     int               `json:"tick_time"`
	InitLimit    int               `json:"init_limit"`
	SyncLimit    int               `json:"sync_limit"`
	LeaderServes bool              `json:"leader_serves"`
	ExtraConfig  map[string]string `json:"extra_config,omitempty"`
}

// ServerAddr is where one server of the ensemble listens: the agent's
// address and the ports the agent chose there.
type ServerAddr struct {
	ID       int    `json:"id"`
	Agent    string `json:"agent"`
	Host     string `json:"host"`
	Client   int    `json:"client_port"`
	Quorum   int    `json:"quorum_port"`
	Election int    `json:"election_port"`
}

// Ensemble is the whole ensemble under test, at /runs/<run>/ensemble.
type Ensemble struct {
	Servers []ServerAddr `json:"servers"`
}

// ServerStatus is a server agent's report on its server.
type ServerStatus struct {
	ID  int `json:"id"`
	PID int `json:"pid"` // 0 while it is down
	// Running says the process is alive; Mode is what srvr last said
	// (leader, follower, standalone), empty while it does not serve.
	Running bool   `json:"running"`
	Mode    string `json:"mode,omitempty"`
	// Frozen says it is stopped by SIGSTOP (a freeze fault).
	Frozen bool `json:"frozen,omitempty"`
	// Starts counts its launches (1 + restarts).
	Starts int `json:"starts"`
	// CPUSeconds is user+system CPU of every launch so far; PeakRSSKiB
	// the largest VmHWM seen.
	CPUSeconds float64 `json:"cpu_seconds"`
	PeakRSSKiB int64   `json:"peak_rss_kib"`
	Dir        string  `json:"dir,omitempty"`
	Error      string  `json:"error,omitempty"`
}

// FaultRequest asks a server agent to apply a fault to its server; the
// agent sets Done (and Error) and At, when it was applied in its clock.
type FaultRequest struct {
	Action string `json:"action"`
	Done   bool   `json:"done,omitempty"`
	Error  string `json:"error,omitempty"`
	At     int64  `json:"at_unix_ns,omitempty"`
}

// Plan is the coordinator's record of a run, at /runs/<run>.
type Plan struct {
	Run     string               `json:"run"`
	Version string               `json:"version"`
	Agents  []string             `json:"agents"`
	Ranges  []bench.SessionRange `json:"ranges"`
}

// Ready says an agent's sessions are established (or why they are not).
type Ready struct {
	// Offset is the agent's clock minus the coordination server's, and
	// Uncertainty its error bound.
	Offset      time.Duration `json:"offset_ns"`
	Uncertainty time.Duration `json:"uncertainty_ns"`
	Error       string        `json:"error,omitempty"`
	// Server is a server agent's address and ports.
	Server *ServerAddr `json:"server,omitempty"`
}

// Start is the barrier: when the warm-up starts, in the coordination
// server's clock (Unix nanoseconds).
type Start struct {
	At int64 `json:"at_unix_ns"`
}

// WarmupKeep is how many of its last warm-up buckets an agent publishes:
// 10 s of them, a few hundred bytes, far below jute.maxbuffer however long
// the warm-up.
const WarmupKeep = 20

// WarmupCounts is what a client agent publishes during an automatic
// warm-up, rewritten as each bucket ends: its last WarmupKeep buckets,
// oldest first, indexed from the run's Start.
type WarmupCounts struct {
	Buckets []bench.WarmupBucket `json:"buckets"`
}

// Measure is the coordinator's decision of an automatic warm-up: when the
// measured part starts, in the coordination server's clock (Unix
// nanoseconds), on the series' grid from Start.
type Measure struct {
	At int64 `json:"at_unix_ns"`
}

// Report is what an agent sends back when its load ends.
type Report struct {
	Agent    string             `json:"agent"`
	Facts    Facts              `json:"facts"`
	Sessions bench.SessionRange `json:"sessions"`
	// Result is the agent's slice as bench.Run returned it (nil when the
	// load failed); its histograms travel encoded below.
	Result *results.Result `json:"result,omitempty"`
	// Latency and Service are the whole-run histograms per operation type,
	// Intervals the histogram of each series interval by index (counted
	// from the common start), all HdrHistogram V2 compressed encodings.
	Latency   map[string][]byte `json:"latency,omitempty"`
	Service   map[string][]byte `json:"service,omitempty"`
	Intervals map[int64][]byte  `json:"intervals,omitempty"`
	// Error says why the load failed or stopped early.
	Error string `json:"error,omitempty"`
	// Server is a server agent's final word on its server.
	Server *ServerStatus `json:"server,omitempty"`
}

// ReportHeader is written once every chunk of a report is.
type ReportHeader struct {
	Chunks int    `json:"chunks"`
	Bytes  int    `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// EncodeHist encodes h in HdrHistogram's V2 compressed format.
func EncodeHist(h *hdr.Histogram) ([]byte, error) {
	return h.Encode(hdr.V2CompressedEncodingCookieBase)
}

// DecodeHist decodes EncodeHist's output.
func DecodeHist(b []byte) (*hdr.Histogram, error) {
	h, err := hdr.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("agent: histogram: %w", err)
	}
	return h, nil
}

// EncodeHists encodes a map of histograms.
func EncodeHists(hs map[string]*hdr.Histogram) (map[string][]byte, error) {
	if hs == nil {
		return nil, nil
	}
	out := make(map[string][]byte, len(hs))
	for k, h := range hs {
		b, err := EncodeHist(h)
		if err != nil {
			return nil, fmt.Errorf("agent: histogram %s: %w", k, err)
		}
		out[k] = b
	}
	return out, nil
}

// DecodeHists decodes EncodeHists' output.
func DecodeHists(bs map[string][]byte) (map[string]*hdr.Histogram, error) {
	if bs == nil {
		return nil, nil
	}
	out := make(map[string]*hdr.Histogram, len(bs))
	for k, b := range bs {
		h, err := DecodeHist(b)
		if err != nil {
			return nil, fmt.Errorf("%w (%s)", err, k)
		}
		out[k] = h
	}
	return out, nil
}

// Version is this binary's zkbench version as agents and coordinators
// compare it: internal/version's one-line form (module version, or the
// revision it was built from, "+dirty" with local changes) or, for a build
// that carries no revision at all, "devel+" and the start of the
// executable's SHA-256, so that two different builds never pass for one
// another.
var Version = sync.OnceValue(func() string {
	if v := version.Get().String(); v != "devel" {
		return v
	}
	if exe, err := os.Executable(); err == nil {
		if f, err := os.Open(exe); err == nil {
			defer f.Close()
			h := sha256.New()
			if _, err := io.Copy(h, f); err == nil {
				return "devel+" + hex.EncodeToString(h.Sum(nil))[:12]
			}
		}
	}
	return "devel"
})

// ErrNotFound is returned by ReadReport when no report header exists yet.
var ErrNotFound = errors.New("agent: no report")

// WriteReport writes r as name's report of run: its chunks, then the header.
func WriteReport(conn *zk.Conn, l Layout, run string, r *Report) error {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(r); err != nil {
		return fmt.Errorf("agent: encode report: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("agent: encode report: %w", err)
	}
	data := buf.Bytes()
	dir := l.Chunks(run, r.Agent)
	if err := ensure(conn, path.Dir(dir), dir); err != nil {
		return err
	}
	n := 0
	for off := 0; off < len(data) || n == 0; off += ChunkSize {
		part := data[off:min(off+ChunkSize, len(data))]
		p := fmt.Sprintf("%s/%04d", dir, n)
		if _, err := conn.Create(p, part, 0, zk.WorldACL(zk.PermAll)); err != nil {
			return fmt.Errorf("agent: write report chunk %s: %w", p, err)
		}
		n++
	}
	sum := sha256.Sum256(data)
	h, _ := json.Marshal(ReportHeader{Chunks: n, Bytes: len(data), SHA256: hex.EncodeToString(sum[:])})
	if _, err := conn.Create(l.Report(run, r.Agent), h, 0, zk.WorldACL(zk.PermAll)); err != nil {
		return fmt.Errorf("agent: write report header: %w", err)
	}
	return nil
}

// ReadReport reads name's report of run, checking its length and digest.
func ReadReport(conn *zk.Conn, l Layout, run, name string) (*Report, error) {
	hb, _, err := conn.Get(l.Report(run, name))
	if errors.Is(err, zk.ErrNoNode) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("agent: report of %s: %w", name, err)
	}
	var h ReportHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, fmt.Errorf("agent: report header of %s: %w", name, err)
	}
	var data []byte
	for i := range h.Chunks {
		b, _, err := conn.Get(fmt.Sprintf("%s/%04d", l.Chunks(run, name), i))
		if err != nil {
			return nil, fmt.Errorf("agent: report of %s, chunk %d of %d: %w", name, i, h.Chunks, err)
		}
		data = append(data, b...)
	}
	sum := sha256.Sum256(data)
	if len(data) != h.Bytes || hex.EncodeToString(sum[:]) != h.SHA256 {
		return nil, fmt.Errorf("agent: report of %s: %d bytes read, header says %d (or the digest differs)", name, len(data), h.Bytes)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("agent: report of %s: %w", name, err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("agent: report of %s: %w", name, err)
	}
	var r Report
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("agent: report of %s: %w", name, err)
	}
	return &r, nil
}

// ensure creates each path that does not exist yet, in order.
func ensure(conn *zk.Conn, paths ...string) error {
	for _, p := range paths {
		if _, err := conn.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("agent: create %s: %w", p, err)
		}
	}
	return nil
}

// Ensure creates the root of the layout and its top-level directories.
func Ensure(conn *zk.Conn, l Layout) error {
	var paths []string
	for p := l.Root; p != "/"; p = path.Dir(p) {
		paths = append([]string{p}, paths...)
	}
	return ensure(conn, append(paths, l.Agents(), l.Assigns(), l.Runs())...)
}

// EnsureRun creates a run's directories.
func EnsureRun(conn *zk.Conn, l Layout, run string) error {
	return ensure(conn, l.Run(run), l.ReadyDir(run), l.Reports(run), l.Run(run)+"/chunks", l.StatusDir(run), l.FaultsDir(run), l.Warmups(run))
}

// DeleteTree deletes p and everything under it (best effort: it returns
// the first error other than a missing node).
func DeleteTree(conn *zk.Conn, p string) error {
	children, _, err := conn.Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, c := range children {
		if err := DeleteTree(conn, p+"/"+c); err != nil {
			return err
		}
	}
	if err := conn.Delete(p, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	return nil
}
