package config

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zkbench/zkbench/server/quorum"
)

// Defaults, as upstream ZooKeeper 3.8 has them.
const (
	DefaultTickTime        = 3000 // ms; ZooKeeperServer.DEFAULT_TICK_TIME
	DefaultMaxClientCnxns  = 60
	DefaultSnapCount       = 100000
	DefaultPreAllocSize    = 65536 * 1024 // bytes
	DefaultMaxBatchSize    = 1000         // txns per group commit
	DefaultSnapRetainCount = 3            // also the minimum
	DefaultMaxBuffer       = 0xfffff      // jute.maxbuffer
	DefaultElectionAlg     = 3            // the only one there is
)

// DefaultGroupCommitLinger is the longest a standalone server's loaded
// group commit waits for more txns (commitLingerUs), a setting of this
// server only: docs/decisions.md #11.
const DefaultGroupCommitLinger = 2 * time.Millisecond

// FourLetterWordNames lists every four-letter word upstream 3.8 knows; a
// whitelist of "*" enables all of them.
var FourLetterWordNames = []string{
	"conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk",
	"srst", "srvr", "stat", "wchc", "wchp", "wchs", "mntr", "isro", "hash",
}

// Config is a parsed and validated zoo.cfg (plus its dynamic file and myid).
type Config struct {
	Path string // the zoo.cfg read (the name given to Parse)

	TickTime                    int // ms; default 3000 (upstream does not require it)
	InitLimit, SyncLimit        int // ticks; required (non-zero) for a quorum
	ConnectToLearnerMasterLimit int // ticks; 0 means "use initLimit" upstream; not acted on

	DataDir    string // where snapshots (and myid) live; required
	DataLogDir string // where transaction logs live; defaults to DataDir

	ClientPort              int    // 0 when not set
	ClientPortAddress       string // address to bind; "0.0.0.0" (all) when only the port is set
	ClientPortListenBacklog int    // -1 = system default; not acted on
	// SecureClientPort is the TLS client port (secureClientPort), 0 when
	// not set; SecureClientPortAddress its address, "0.0.0.0" when only
	// the port is set. The ssl.* properties configure it (server/tlsconf).
	SecureClientPort        int
	SecureClientPortAddress string
	ObserverMasterPort      int // 0 = not set; not acted on

	MaxClientCnxns                       int // per client IP; default 60, 0 = unlimited
	MinSessionTimeout, MaxSessionTimeout int // ms; default 2*tick and 20*tick

	SnapCount    int   // txns between snapshots (zookeeper.snapCount, default 100000, at least 2)
	PreAllocSize int64 // bytes (zookeeper.preAllocSize is KB, default 65536 KB)
	ForceSync    bool  // fsync the log (zookeeper.forceSync != "no")
	// FlushDelay is how long a standalone server's group commit waits for
	// more txns before it syncs (zookeeper.flushDelay, ms, default 0:
	// sync as soon as no txn is waiting).
	FlushDelay time.Duration
	// GroupCommitLinger is the longest a standalone server's group commit
	// lingers for more txns when it finds others queued, an option of this
	// server only (zoo.cfg commitLingerUs, microseconds, default
	// 2000; 0 turns it off; a FlushDelay replaces it). See wal.Linger.
	GroupCommitLinger time.Duration
	// MaxBatchSize bounds the txns of one group commit
	// (zookeeper.maxBatchSize, default 1000).
	MaxBatchSize    int
	SnapRetainCount int // autopurge.snapRetainCount, default and minimum 3
	PurgeInterval   int // autopurge.purgeInterval in hours; 0 = autopurge off

	FourLetterWords map[string]bool // enabled words (4lw.commands.whitelist); always has srvr

	StandaloneEnabled    bool // default true
	ReconfigEnabled      bool // default false
	LeaderServes         bool // zookeeper.leaderServes != "no"
	PeerType             string
	ElectionAlg          int
	QuorumListenOnAllIPs bool
	SyncEnabled          bool // observers keep a log and snapshots; default true; not acted on (they always do)

	Servers       map[int64]quorum.Server // server.N lines, from zoo.cfg or the dynamic file
	ConfigVersion int64                   // dynamic config version (hex suffix of the dynamic file name), 0 if none
	MyID          int64                   // from dataDir/myid; -1 when not read

	// Other holds settings of upstream's QuorumPeerConfig that this server
	// ignores (metrics, JVM pause monitor, a harmless sslQuorum=false, ...;
	// see keys.go), validated as upstream validates them, keyed as written
	// in zoo.cfg.
	Other map[string]string

	// Properties are the Java system properties the server would see: every
	// -D flag of SERVER_JVMFLAGS then JVMFLAGS (a later flag wins, as in
	// java), overridden by every zoo.cfg key that is not a setting, stored
	// as "zookeeper.<key>" (QuorumPeerConfig calls System.setProperty after
	// the JVM has started, so the file wins).
	Properties map[string]string

	DynamicConfigFile string   // dynamicConfigFile, as written
	Warnings          []string // questionable but accepted input, in file order

	fileProps map[string]string // zookeeper.<key> properties that came from the file
	envProps  map[string]string // properties from -D flags
}

// Load reads the zoo.cfg at path, its dynamic configuration file if it names
// one, and dataDir/myid when that file exists (it is required when the
// configuration is a quorum). env is like os.Environ(): its SERVER_JVMFLAGS
// and JVMFLAGS -D flags become Properties.
func Load(path string, env []string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot read: %v", err)}
	}
	p, err := parse(data, path, env)
	if err != nil {
		return nil, err
	}
	c := p.c
	if c.DynamicConfigFile != "" {
		if err := p.loadDynamic(); err != nil {
			return nil, err
		}
	}
	if err := p.readMyID(); err != nil {
		return nil, err
	}
	if err := p.finish(true); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse parses a zoo.cfg from r without touching the file system: it reads
// neither dataDir/myid (MyID stays -1) nor a dynamic configuration file
// (Servers stays empty when the file names one). name is used in errors.
func Parse(r io.Reader, name string, env []string) (*Config, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, &Error{File: name, Msg: fmt.Sprintf("cannot read: %v", err)}
	}
	p, err := parse(data, name, env)
	if err != nil {
		return nil, err
	}
	if err := p.finish(false); err != nil {
		return nil, err
	}
	return p.c, nil
}

// parser carries what the stages of parsing share.
type parser struct {
	c          *Config
	file       string
	quorum     []entry // server./group/weight/version entries
	quorumFile string  // file the quorum entries came from
	haveQuorum bool    // quorum entries were read (static or dynamic)
	myidFile   string
	myidLine   int

	// State of the zoo.cfg pass that the key table's set functions share.
	hasDynamic        bool // the file names a dynamicConfigFile
	dataDirSet        bool
	clientPortLine    int
	clientPortAddress string
	haveAddr          bool // clientPortAddress was set
	securePortLine    int
	secureAddrLine    int
	secureAddr        string
	ensembleOnly      []pendingRefusal
	flagVar           map[string]string // -D property name -> the variable that set it
}

func (p *parser) errf(line int, key, format string, args ...any) error {
	return &Error{File: p.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) warnf(line int, format string, args ...any) {
	loc := p.file
	if line > 0 {
		loc += fmt.Sprintf(":%d", line)
	}
	p.c.Warnings = append(p.c.Warnings, loc+": "+fmt.Sprintf(format, args...))
}

// lastWins keeps the last entry of each key, as java.util.Properties does,
// in file order, warning about the ones overridden.
func (p *parser) lastWins(entries []entry, file string) []entry {
	last := map[string]int{}
	for i, e := range entries {
		if j, ok := last[e.Key]; ok {
			p.c.Warnings = append(p.c.Warnings, fmt.Sprintf("%s:%d: %s set again (first on line %d); the last one wins", file, e.Line, e.Key, entries[j].Line))
		}
		last[e.Key] = i
	}
	var out []entry
	for i, e := range entries {
		if last[e.Key] == i {
			out = append(out, e)
		}
	}
	return out
}

func newConfig(path string) *Config {
	return &Config{
		Path:                    path,
		TickTime:                DefaultTickTime,
		ClientPortListenBacklog: -1,
		MaxClientCnxns:          DefaultMaxClientCnxns,
		MinSessionTimeout:       -1,
		MaxSessionTimeout:       -1,
		SnapRetainCount:         DefaultSnapRetainCount,
		StandaloneEnabled:       true,
		PeerType:                quorum.Participant,
		ElectionAlg:             DefaultElectionAlg,
		SyncEnabled:             true,
		MyID:                    -1,
		Other:                   map[string]string{},
		Properties:              map[string]string{},
		fileProps:               map[string]string{},
		envProps:                map[string]string{},
	}
}

func parse(data []byte, file string, env []string) (*parser, error) {
	c := newConfig(file)
	p := &parser{c: c, file: file, myidLine: 1, flagVar: map[string]string{}}
	if err := p.readJVMFlags(env); err != nil {
		return nil, err
	}
	entries, err := readProperties(data)
	if err != nil {
		err.(*Error).File = file
		return nil, err
	}
	if bytes.IndexFunc(data, func(r rune) bool { return r >= 0x80 }) >= 0 {
		p.warnf(0, "the file has non-ASCII bytes: like java.util.Properties they are read as ISO-8859-1 (use \\uXXXX escapes)")
	}
	entries = p.lastWins(entries, file)
	for _, e := range entries {
		if e.Key == "dynamicConfigFile" {
			p.hasDynamic = true
		}
	}
	for _, e := range entries {
		if err := p.applyKey(setting{entry: e, key: javaTrim(e.Key), value: javaTrim(e.Value)}); err != nil {
			return nil, err
		}
	}
	if err := p.checkFlags(); err != nil {
		return nil, err
	}
	if !p.dataDirSet || c.DataDir == "" {
		return nil, p.errf(0, "dataDir", "is not set")
	}
	if c.DataLogDir == "" {
		c.DataLogDir = c.DataDir
	}
	if c.ClientPort == 0 {
		if p.haveAddr {
			return nil, p.errf(p.clientPortLine, "clientPortAddress", "is set but clientPort is not set")
		}
	} else {
		if c.ClientPort < 0 || c.ClientPort > 65535 {
			return nil, p.errf(p.clientPortLine, "clientPort", "port out of range: %d", c.ClientPort)
		}
		c.ClientPortAddress = "0.0.0.0"
		if p.haveAddr {
			c.ClientPortAddress = p.clientPortAddress
		}
	}
	if err := p.secureClientPort(); err != nil {
		return nil, err
	}
	if c.TickTime == 0 {
		return nil, p.errf(0, "tickTime", "is not set")
	}
	if c.MinSessionTimeout == -1 {
		c.MinSessionTimeout = 2 * c.TickTime
	}
	if c.MaxSessionTimeout == -1 {
		c.MaxSessionTimeout = 20 * c.TickTime
	}
	if c.MinSessionTimeout > c.MaxSessionTimeout {
		return nil, p.errf(0, "minSessionTimeout", "must not be larger than maxSessionTimeout (%d > %d)", c.MinSessionTimeout, c.MaxSessionTimeout)
	}
	c.derive(p)
	if c.DynamicConfigFile == "" {
		p.quorumFile = file
		if err := p.parseQuorum(p.quorum, false); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// intValue parses a setting as Integer.parseInt does.
func (p *parser) intValue(s setting, dst *int) error {
	n, err := strconv.ParseInt(s.value, 10, 32)
	if err != nil {
		return p.errf(s.Line, s.key, "not a number: %q", s.value)
	}
	*dst = int(n)
	return nil
}

// longValue checks a setting as Long.parseLong does.
func (p *parser) longValue(s setting) error {
	if _, err := strconv.ParseInt(s.value, 10, 64); err != nil {
		return p.errf(s.Line, s.key, "not a number: %q", s.value)
	}
	return nil
}

// boolValue parses a setting as QuorumPeerConfig.parseBoolean does.
func (p *parser) boolValue(s setting, dst *bool) error {
	switch strings.ToLower(s.value) {
	case "true":
		*dst = true
	case "false":
		*dst = false
	default:
		return p.errf(s.Line, s.key, "invalid option %q: choose 'true' or 'false'", s.value)
	}
	return nil
}

// intField is the set function of an int setting held in a Config field.
func intField(field func(*Config) *int) func(*parser, setting) error {
	return func(p *parser, s setting) error { return p.intValue(s, field(p.c)) }
}

// nonNegativeField is intField for a setting that must not be negative
// (stricter than upstream).
func nonNegativeField(field func(*Config) *int) func(*parser, setting) error {
	return func(p *parser, s setting) error {
		dst := field(p.c)
		if err := p.intValue(s, dst); err != nil {
			return err
		}
		if *dst < 0 {
			return p.errf(s.Line, s.key, "must not be negative: %d", *dst)
		}
		return nil
	}
}

// boolField is the set function of a boolean setting held in a Config field.
func boolField(field func(*Config) *bool) func(*parser, setting) error {
	return func(p *parser, s setting) error { return p.boolValue(s, field(p.c)) }
}

func setDataDir(p *parser, s setting) error {
	p.c.DataDir = javaFilePath(s.value)
	p.dataDirSet = true
	if !filepath.IsAbs(s.value) {
		p.warnf(s.Line, "dataDir %q is a relative path", s.value)
	}
	return nil
}

func setDataLogDir(p *parser, s setting) error {
	p.c.DataLogDir = javaFilePath(s.value)
	if !filepath.IsAbs(s.value) {
		p.warnf(s.Line, "dataLogDir %q is a relative path", s.value)
	}
	return nil
}

func setClientPort(p *parser, s setting) error {
	p.clientPortLine = s.Line
	return p.intValue(s, &p.c.ClientPort)
}

func setClientPortAddress(p *parser, s setting) error {
	p.clientPortAddress, p.haveAddr = s.value, true
	return nil
}

func setSecureClientPort(p *parser, s setting) error {
	p.securePortLine = s.Line
	return p.intValue(s, &p.c.SecureClientPort)
}

func setSecureClientPortAddress(p *parser, s setting) error {
	p.secureAddrLine, p.secureAddr = s.Line, s.value
	return nil
}

// secureClientPort checks the TLS client port as upstream does, and binds
// it on all interfaces when no address is given.
func (p *parser) secureClientPort() error {
	c := p.c
	if c.SecureClientPort == 0 {
		if p.secureAddrLine > 0 {
			return p.errf(p.secureAddrLine, "secureClientPortAddress", "is set but secureClientPort is not set")
		}
		return nil
	}
	if c.SecureClientPort < 0 || c.SecureClientPort > 65535 {
		return p.errf(p.securePortLine, "secureClientPort", "port out of range: %d", c.SecureClientPort)
	}
	c.SecureClientPortAddress = "0.0.0.0"
	if p.secureAddrLine > 0 {
		c.SecureClientPortAddress = p.secureAddr
	}
	return nil
}

func setElectionAlg(p *parser, s setting) error {
	if err := p.intValue(s, &p.c.ElectionAlg); err != nil {
		return err
	}
	if p.c.ElectionAlg != DefaultElectionAlg {
		return p.errf(s.Line, s.key, "invalid value %d: only 3 is supported", p.c.ElectionAlg)
	}
	return nil
}

func setPeerType(p *parser, s setting) error {
	switch t := strings.ToLower(s.value); t {
	case quorum.Observer, quorum.Participant:
		p.c.PeerType = t
		return nil
	}
	return p.errf(s.Line, s.key, "unrecognised peer type %q (participant or observer)", s.value)
}

func setDynamicConfigFile(p *parser, s setting) error {
	p.c.DynamicConfigFile = s.value
	return nil
}

func setSnapRetainCount(p *parser, s setting) error {
	c := p.c
	if err := p.intValue(s, &c.SnapRetainCount); err != nil {
		return err
	}
	if c.SnapRetainCount < DefaultSnapRetainCount {
		p.warnf(s.Line, "invalid autopurge.snapRetainCount %d: using %d", c.SnapRetainCount, DefaultSnapRetainCount)
		c.SnapRetainCount = DefaultSnapRetainCount
	}
	return nil
}

// setQuorumEntry keeps a server.N (group, weight) line for parseQuorum.
func setQuorumEntry(p *parser, s setting) error {
	if p.hasDynamic {
		return p.errf(s.Line, s.key, "must be in the separate dynamic config file (dynamicConfigFile is set)")
	}
	// Upstream also sets these as zookeeper.<key> system properties.
	p.c.setFileProperty(s.key, s.value)
	p.quorum = append(p.quorum, s.entry)
	return nil
}

// unknownKey stores a key that is not a setting as the system property
// zookeeper.<key>, as QuorumPeerConfig does, warning when that is likely not
// what the author meant.
func (p *parser) unknownKey(line int, key, value string) {
	c := p.c
	c.setFileProperty(key, value)
	switch {
	case strings.HasPrefix(key, "zookeeper."):
		p.warnf(line, "%s becomes system property zookeeper.%s, which nothing reads: drop the zookeeper. prefix", key, key)
	case isFlagOnly(key):
		p.warnf(line, "%s becomes system property zookeeper.%s and has no effect (upstream reads %s only as a -D flag in SERVER_JVMFLAGS or JVMFLAGS)", key, key, key)
	default:
		p.warnf(line, "unknown key %s: stored as system property zookeeper.%s", key, key)
	}
}

func (c *Config) setFileProperty(key, value string) {
	name := "zookeeper." + key
	if ev, ok := c.envProps[name]; ok && ev != value {
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s: %s=%s overrides -D%s=%s from the environment", c.Path, key, value, name, ev))
	}
	c.Properties[name] = value
	c.fileProps[name] = value
}

// derive computes the settings that upstream reads from system properties.
func (c *Config) derive(p *parser) {
	c.SnapCount = DefaultSnapCount
	if v, ok := c.Properties["zookeeper.snapCount"]; ok {
		if n, ok := javaDecodeInt(v); ok {
			c.SnapCount = n
		} else {
			p.warnf(0, "snapCount %q is not a number: using %d", v, DefaultSnapCount)
		}
		if c.SnapCount < 2 {
			p.warnf(0, "snapCount should be 2 or more: using 2")
			c.SnapCount = 2
		}
	}
	c.PreAllocSize = DefaultPreAllocSize
	if v, ok := c.Properties["zookeeper.preAllocSize"]; ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			c.PreAllocSize = n * 1024
		} else {
			p.warnf(0, "%q is not a valid value for preAllocSize: using %d KB", v, DefaultPreAllocSize/1024)
		}
	}
	c.ForceSync = c.Properties["zookeeper.forceSync"] != "no"
	if v, ok := c.Properties["zookeeper.flushDelay"]; ok {
		if n, ok := javaDecodeInt(v); ok && n >= 0 {
			c.FlushDelay = time.Duration(n) * time.Millisecond
		} else {
			p.warnf(0, "flushDelay %q is not a number of milliseconds: using 0", v)
		}
	}
	c.GroupCommitLinger = DefaultGroupCommitLinger
	if v, ok := c.Properties["zookeeper.commitLingerUs"]; ok {
		if n, ok := javaDecodeInt(v); ok && n >= 0 {
			c.GroupCommitLinger = time.Duration(n) * time.Microsecond
		} else {
			p.warnf(0, "commitLingerUs %q is not a number of microseconds: using %d", v, DefaultGroupCommitLinger.Microseconds())
		}
	}
	c.MaxBatchSize = DefaultMaxBatchSize
	if v, ok := c.Properties["zookeeper.maxBatchSize"]; ok {
		if n, ok := javaDecodeInt(v); ok && n > 0 {
			c.MaxBatchSize = n
		} else {
			p.warnf(0, "maxBatchSize %q is not a positive number: using %d", v, DefaultMaxBatchSize)
		}
	}
	c.LeaderServes = c.Properties["zookeeper.leaderServes"] != "no"
	c.FourLetterWords = map[string]bool{"srvr": true}
	if v, ok := c.Properties["zookeeper.4lw.commands.whitelist"]; ok {
		for _, w := range strings.Split(v, ",") {
			w = javaTrim(w)
			if w == "*" {
				for _, n := range FourLetterWordNames {
					c.FourLetterWords[n] = true
				}
				break
			}
			if w != "" {
				c.FourLetterWords[w] = true
			}
		}
	}
	if c.Properties["readonlymode.enabled"] == "true" {
		c.FourLetterWords["isro"] = true
	}
}

// javaFilePath normalises a path as java.io.File does: repeated slashes
// become one and a trailing slash goes ("." and ".." stay).
func javaFilePath(s string) string {
	for strings.Contains(s, "//") {
		s = strings.ReplaceAll(s, "//", "/")
	}
	if len(s) > 1 {
		s = strings.TrimSuffix(s, "/")
	}
	return s
}

// javaDecodeInt is Integer.decode: javaDecodeLong within int's range.
func javaDecodeInt(s string) (int, bool) {
	n, ok := javaDecodeLong(s)
	if !ok || n < -1<<31 || n > 1<<31-1 {
		return 0, false
	}
	return int(n), true
}

// loadDynamic reads the dynamic configuration file.
func (p *parser) loadDynamic() error {
	c := p.c
	name := c.DynamicConfigFile
	data, err := os.ReadFile(name)
	if err != nil {
		return &Error{File: p.file, Key: "dynamicConfigFile", Msg: fmt.Sprintf("cannot read: %v", err)}
	}
	entries, err := readProperties(data)
	if err != nil {
		err.(*Error).File = name
		return err
	}
	entries = p.lastWins(entries, name)
	for _, e := range entries {
		if e.Key == "version" {
			return &Error{File: name, Line: e.Line, Key: "version", Msg: "the dynamic file must not have a version inside (it comes from the file name)"}
		}
	}
	// The version is the hex suffix of the file name (zoo.cfg.dynamic.100000000).
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		if v, err := strconv.ParseInt(name[i+1:], 16, 64); err == nil {
			entries = append(entries, entry{Key: "version", Value: strconv.FormatInt(v, 16)})
		}
	}
	p.quorumFile = name
	return p.parseQuorum(entries, true)
}

// parseQuorum turns server.N (and version) entries into Servers, as
// QuorumPeerConfig.parseDynamicConfig and QuorumMaj do.
func (p *parser) parseQuorum(entries []entry, dynamic bool) error {
	c := p.c
	file := p.quorumFile
	errf := func(line int, key, format string, args ...any) error {
		return &Error{File: file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
	}
	c.Servers = map[int64]quorum.Server{}
	lines := map[int64]int{}
	for _, e := range entries {
		key := javaTrim(e.Key)
		switch {
		case strings.HasPrefix(key, "group") || strings.HasPrefix(key, "weight"):
			return errf(e.Line, key, "hierarchical quorums (group.N/weight.N) are not supported by this server")
		case key == "version":
			v, err := strconv.ParseInt(e.Value, 16, 64)
			if err != nil {
				return errf(e.Line, key, "not a hex number: %q", e.Value)
			}
			c.ConfigVersion = v
		case strings.HasPrefix(key, "server."):
			id, err := strconv.ParseInt(e.Key[strings.IndexByte(e.Key, '.')+1:], 10, 64)
			if err != nil {
				return errf(e.Line, key, "server id %q is not a number", e.Key[strings.IndexByte(e.Key, '.')+1:])
			}
			if l, dup := lines[id]; dup {
				return errf(e.Line, key, "server id %d is already defined on line %d", id, l)
			}
			s, err := quorum.ParseServer(id, e.Value)
			if err != nil {
				return errf(e.Line, key, "%s", err)
			}
			lines[id] = e.Line
			c.Servers[id] = s
		default:
			if dynamic {
				return errf(e.Line, key, "unrecognised parameter in a dynamic config file (only server.N)")
			}
		}
	}
	p.haveQuorum = true

	// Two servers may not share a quorum or election address.
	if id, msg := duplicateAddress(c.Servers); msg != "" {
		return errf(lines[id], fmt.Sprintf("server.%d", id), "%s", msg)
	}

	voters, observers := len(c.Voters()), len(c.Observers())
	switch {
	case voters == 0:
		if !c.StandaloneEnabled {
			return errf(0, "standaloneEnabled", "standaloneEnabled=false needs at least one participant server")
		}
		if observers > 0 {
			return errf(0, "server", "observers without participants are an invalid configuration")
		}
	case voters == 1 && c.StandaloneEnabled:
		if observers > 0 {
			return errf(0, "server", "observers without a quorum are an invalid configuration (one participant and standaloneEnabled)")
		}
		p.warnf(0, "only one server specified: running standalone and ignoring it")
	case voters <= 2:
		p.warnf(0, "no server failure will be tolerated: you need at least 3 servers")
	case voters%2 == 0:
		p.warnf(0, "non-optimal configuration: consider an odd number of servers (%d participants)", voters)
	}
	return nil
}

// readMyID reads dataDir/myid if it is a file, as QuorumPeerConfig does:
// the first line must be a number with nothing around it.
func (p *parser) readMyID() error {
	c := p.c
	name := filepath.Join(c.DataDir, "myid")
	p.myidFile = name
	st, err := os.Stat(name)
	if err != nil || !st.Mode().IsRegular() {
		return nil
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return &Error{File: name, Key: "myid", Msg: fmt.Sprintf("cannot read: %v", err)}
	}
	first := string(data)
	if i := strings.IndexAny(first, "\r\n"); i >= 0 {
		first = first[:i]
	}
	id, perr := strconv.ParseInt(first, 10, 64)
	if perr != nil {
		msg := fmt.Sprintf("server id %q is not a number", first)
		if len(data) == 0 {
			msg = "the file is empty: it must hold this server's id"
		} else if t := strings.TrimSpace(first); t != first {
			if _, err := strconv.ParseInt(t, 10, 64); err == nil {
				msg += " (blanks around the id are not allowed; upstream rejects them too)"
			}
		}
		return &Error{File: name, Line: 1, Key: "myid", Msg: msg}
	}
	c.MyID = id
	return nil
}

// finish applies the rules that need the servers and myid: the client
// address from this server's line, the peer type, and the quorum checks.
func (p *parser) finish(myidRead bool) error {
	c := p.c
	if err := p.checkQuorumSASL(); err != nil {
		return err
	}
	if !p.haveQuorum {
		// A dynamic file that Parse did not read: nothing more to check
		// (a dynamic file is for an ensemble).
		if err := p.settleEnsembleOnly(false); err != nil {
			return err
		}
		return p.requireClientPort()
	}
	if err := p.settleEnsembleOnly(c.Standalone()); err != nil {
		return err
	}
	if me, ok := c.Servers[c.MyID]; ok && c.MyID >= 0 && me.ClientPort != 0 {
		if c.ClientPort != 0 {
			wild := c.ClientPortAddress == "0.0.0.0" || c.ClientPortAddress == "::" || c.ClientPortAddress == ""
			if (!wild && (c.ClientPortAddress != me.ClientHost || c.ClientPort != me.ClientPort)) || (wild && c.ClientPort != me.ClientPort) {
				return &Error{File: p.file, Key: "clientPort", Msg: fmt.Sprintf("client address %s differs from the one of server.%d: %s",
					joinHostPort(c.ClientPortAddress, c.ClientPort), c.MyID, joinHostPort(me.ClientHost, me.ClientPort))}
			}
		}
		c.ClientPort, c.ClientPortAddress = me.ClientPort, me.ClientHost
	}
	role := quorum.Participant
	if me, ok := c.Servers[c.MyID]; ok {
		role = me.Role
	}
	if role != c.PeerType {
		p.warnf(0, "peer type from the servers list (%s) doesn't match peerType (%s): using the servers list", role, c.PeerType)
		c.PeerType = role
	}
	if !c.Standalone() {
		if c.InitLimit == 0 {
			return p.errf(0, "initLimit", "is not set (required with more than one server)")
		}
		if c.SyncLimit == 0 {
			return p.errf(0, "syncLimit", "is not set (required with more than one server)")
		}
		if myidRead {
			if c.MyID < 0 {
				return &Error{File: p.myidFile, Key: "myid", Msg: "myid file is missing: a server of a quorum needs its id there"}
			}
			if _, ok := c.Servers[c.MyID]; !ok {
				return &Error{File: p.myidFile, Line: p.myidLine, Key: "myid", Msg: fmt.Sprintf("server id %d is not in the servers list of %s (ids: %v)", c.MyID, p.quorumFile, slices.Sorted(maps.Keys(c.Servers)))}
			}
		}
	}
	return p.requireClientPort()
}

// requireClientPort refuses a configuration on which no client could
// connect, with neither a client port nor a secure one (upstream would
// start without a client listener).
func (p *parser) requireClientPort() error {
	c := p.c
	if c.ClientPort != 0 || c.SecureClientPort != 0 {
		return nil
	}
	if c.DynamicConfigFile != "" && !p.haveQuorum {
		return nil
	}
	if c.MyID < 0 && !c.Standalone() {
		for _, s := range c.Servers {
			if s.ClientPort != 0 {
				return nil // which line is ours is not known yet
			}
		}
	}
	return p.errf(0, "clientPort", "is not set (and no server.N line gives this server a client port)")
}

// Standalone reports whether upstream would run this configuration as a
// single standalone server: with standaloneEnabled (the default) and at most
// one participant. It is QuorumPeerConfig.isDistributed negated.
func (c *Config) Standalone() bool {
	return c.StandaloneEnabled && len(c.Voters()) <= 1
}

// Property returns a Java system property as the server would see it.
func (c *Config) Property(key string) (string, bool) {
	v, ok := c.Properties[key]
	return v, ok
}

// MaxBuffer is jute.maxbuffer (Integer.getInteger rules), default 0xfffff.
// Upstream reads it only as the -D flag jute.maxbuffer: a jute.maxbuffer
// line in zoo.cfg becomes zookeeper.jute.maxbuffer and does not count.
func (c *Config) MaxBuffer() int {
	if v, ok := c.Properties["jute.maxbuffer"]; ok {
		if n, ok := javaDecodeInt(v); ok {
			return n
		}
	}
	return DefaultMaxBuffer
}

// SuperDigest is zookeeper.DigestAuthenticationProvider.superDigest ("" if unset).
func (c *Config) SuperDigest() string {
	return c.Properties["zookeeper.DigestAuthenticationProvider.superDigest"]
}

// ProviderRegistered reports whether the authentication provider of scheme
// is registered, as upstream's ProviderRegistry builds its table: ip and
// digest always; another scheme when a zookeeper.authProvider.* property
// (an authProvider.N line or -D flag) names its provider class, whatever
// N is. A JAAS file does not register sasl. A secure client port
// registers x509 (QuorumPeerConfig.configureSSLAuth, before the registry
// is built); client.portUnification alone does not, as upstream sets it
// only after the registry is built.
func (c *Config) ProviderRegistered(scheme string) bool {
	var class string
	switch scheme {
	case "ip", "digest":
		return true
	case "sasl":
		class = saslProvider
	case "x509":
		if c.SecureClientPort != 0 {
			return true
		}
		class = x509Provider
	default:
		return false
	}
	for k, v := range c.Properties {
		if strings.HasPrefix(k, "zookeeper.authProvider.") && strings.TrimSpace(v) == class {
			return true
		}
	}
	return false
}

// ExtendedTypesEnabled is zookeeper.extendedTypesEnabled (Boolean.getBoolean).
func (c *Config) ExtendedTypesEnabled() bool {
	return strings.EqualFold(c.Properties["zookeeper.extendedTypesEnabled"], "true")
}

// Emulate353TTLNodes is zookeeper.emulate353TTLNodes (Boolean.getBoolean).
func (c *Config) Emulate353TTLNodes() bool {
	return strings.EqualFold(c.Properties["zookeeper.emulate353TTLNodes"], "true")
}

// ReadOnlyModeEnabled is readonlymode.enabled (Boolean.getBoolean; a -D flag
// only upstream).
func (c *Config) ReadOnlyModeEnabled() bool {
	return strings.EqualFold(c.Properties["readonlymode.enabled"], "true")
}

// Voters are the participants, sorted by id.
func (c *Config) Voters() []quorum.Server { return c.serversWithRole(quorum.Participant) }

// Observers are the observers, sorted by id.
func (c *Config) Observers() []quorum.Server { return c.serversWithRole(quorum.Observer) }

func (c *Config) serversWithRole(role string) []quorum.Server {
	var out []quorum.Server
	for _, id := range slices.Sorted(maps.Keys(c.Servers)) {
		if s := c.Servers[id]; s.Role == role {
			out = append(out, s)
		}
	}
	return out
}

// QuorumSize is the number of voters that make a majority (QuorumMaj:
// more than half); 1 when there are no voters (standalone).
func (c *Config) QuorumSize() int {
	return len(c.Voters())/2 + 1
}

// joinHostPort writes host:port, bracketing an IPv6 literal.
func joinHostPort(host string, port int) string {
	if strings.Contains(host, ":") {
		return fmt.Sprintf("[%s]:%d", host, port)
	}
	return fmt.Sprintf("%s:%d", host, port)
}

// Membership renders the ensemble as the /zookeeper/config znode holds
// it (see Members.String).
func (c *Config) Membership() string { return c.Members().String() }
