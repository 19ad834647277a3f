package config

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
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

// Roles of a server in the ensemble (Server.Role, Config.PeerType).
const (
	Participant = "participant"
	Observer    = "observer"
)

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
	ConnectToLearnerMasterLimit int // ticks; 0 means "use initLimit" upstream

	DataDir    string // where snapshots (and myid) live; required
	DataLogDir string // where transaction logs live; defaults to DataDir

	ClientPort              int    // 0 when not set
	ClientPortAddress       string // address to bind; "0.0.0.0" (all) when only the port is set
	SecureClientPort        int
	SecureClientPortAddress string
	ClientPortListenBacklog int // -1 = system default
	ObserverMasterPort      int // 0 = not set

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
	SyncEnabled          bool // observers keep a log and snapshots; default true

	LocalSessionsEnabled          bool
	LocalSessionsUpgradingEnabled bool

	Servers       map[int64]Server // server.N lines, from zoo.cfg or the dynamic file
	ConfigVersion int64            // dynamic config version (hex suffix of the dynamic file name), 0 if none
	MyID          int64            // from dataDir/myid; -1 when not read

	// Other holds settings upstream recognises that this server does not act
	// on (SASL, TLS, metrics, JVM pause monitor, ...), validated as upstream
	// validates them, keyed as written in zoo.cfg.
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

// Server is one server.N line.
type Server struct {
	ID           int64
	Host         string // without the [] of an IPv6 literal
	QuorumPort   int
	ElectionPort int
	Role         string // Participant or Observer
	ClientHost   string // from ";host:port" ("0.0.0.0" for ";port"); "" when absent
	ClientPort   int    // 0 when absent
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
		PeerType:                Participant,
		ElectionAlg:             DefaultElectionAlg,
		SyncEnabled:             true,
		MyID:                    -1,
		Other:                   map[string]string{},
		Properties:              map[string]string{},
		fileProps:               map[string]string{},
		envProps:                map[string]string{},
	}
}

// keys upstream parses itself but this server only validates and keeps.
var otherBoolKeys = map[string]bool{
	"sslQuorum": true, "portUnification": true, "sslQuorumReloadCertFiles": true,
	"quorum.auth.enableSasl": true, "quorum.auth.serverRequireSasl": true,
	"quorum.auth.learnerRequireSasl": true, "jvm.pause.monitor": true,
	"multiAddress.enabled": true, "multiAddress.reachabilityCheckEnabled": true,
}
var otherIntKeys = map[string]bool{
	"quorum.cnxn.threads.size": true, "multiAddress.reachabilityCheckTimeoutMs": true,
}
var otherLongKeys = map[string]bool{
	"jvm.pause.info-threshold.ms": true, "jvm.pause.warn-threshold.ms": true, "jvm.pause.sleep.time.ms": true,
}
var otherStringKeys = map[string]bool{
	"quorum.auth.learner.saslLoginContext": true, "quorum.auth.server.saslLoginContext": true,
	"quorum.auth.kerberos.servicePrincipal": true, "metricsProvider.className": true, "oraclePath": true,
}

// knownPropertyKeys are zoo.cfg keys that are not settings but well-known
// system properties (zookeeper.<key>) read by the server: no warning for them.
var knownPropertyKeys = map[string]bool{
	"snapCount": true, "preAllocSize": true, "forceSync": true, "4lw.commands.whitelist": true,
	"leaderServes": true, "DigestAuthenticationProvider.superDigest": true,
	"extendedTypesEnabled": true, "emulate353TTLNodes": true, "maxCnxns": true,
	"snapSizeLimitInKb": true, "commitLogCount": true, "globalOutstandingLimit": true,
	"admin.enableServer": true, "admin.serverPort": true, "admin.serverAddress": true,
	"admin.commandURL": true, "admin.idleTimeout": true, "digest.enabled": true,
	"skipACL": true, "fsync.warningthresholdms": true, "syncLimit": true,
	"authProvider.1": true, "sessionRequireClientSASLAuth": true, "enforceQuota": true,
	"audit.enable": true, "serverCnxnFactory": true, "snapshot.trust.empty": true,
	"txnLogSizeLimitInKb": true, "maxBatchSize": true, "requestThrottleLimit": true,
	"snapshot.compression.method": true, "electionPortBindRetry": true,
	"tcpKeepAlive": true, "cnxTimeout": true, "flushDelay": true, "maxWriteQueuePollTime": true,
	"commitLingerUs": true, // this server's own; Java ignores it
}

func parse(data []byte, file string, env []string) (*parser, error) {
	c := newConfig(file)
	p := &parser{c: c, file: file, myidLine: 1}
	if err := c.readJVMFlags(env); err != nil {
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
	hasDynamic := false
	for _, e := range entries {
		if e.Key == "dynamicConfigFile" {
			hasDynamic = true
		}
	}

	clientPortLine, secureLine := 0, 0
	var clientPortAddress, secureClientPortAddress string
	haveAddr, haveSecureAddr := false, false
	dataDirSet := false
	for _, e := range entries {
		key, value := javaTrim(e.Key), javaTrim(e.Value)
		line := e.Line
		intVal := func(dst *int) error {
			n, err := strconv.ParseInt(value, 10, 32)
			if err != nil {
				return p.errf(line, key, "not a number: %q", value)
			}
			*dst = int(n)
			return nil
		}
		boolVal := func(dst *bool) error {
			switch strings.ToLower(value) {
			case "true":
				*dst = true
			case "false":
				*dst = false
			default:
				return p.errf(line, key, "invalid option %q: choose 'true' or 'false'", value)
			}
			return nil
		}
		var err error
		switch key {
		case "dataDir":
			c.DataDir = javaFilePath(value)
			dataDirSet = true
			if !filepath.IsAbs(value) {
				p.warnf(line, "dataDir %q is a relative path", value)
			}
		case "dataLogDir":
			c.DataLogDir = javaFilePath(value)
			if !filepath.IsAbs(value) {
				p.warnf(line, "dataLogDir %q is a relative path", value)
			}
		case "clientPort":
			err = intVal(&c.ClientPort)
			clientPortLine = line
		case "clientPortAddress":
			clientPortAddress, haveAddr = value, true
		case "secureClientPort":
			err = intVal(&c.SecureClientPort)
			secureLine = line
		case "secureClientPortAddress":
			secureClientPortAddress, haveSecureAddr = value, true
		case "observerMasterPort":
			err = intVal(&c.ObserverMasterPort)
		case "clientPortListenBacklog":
			err = intVal(&c.ClientPortListenBacklog)
		case "localSessionsEnabled":
			err = boolVal(&c.LocalSessionsEnabled)
		case "localSessionsUpgradingEnabled":
			err = boolVal(&c.LocalSessionsUpgradingEnabled)
		case "tickTime":
			err = intVal(&c.TickTime)
			if err == nil && c.TickTime < 0 {
				err = p.errf(line, key, "must not be negative: %d", c.TickTime)
			}
		case "maxClientCnxns":
			err = intVal(&c.MaxClientCnxns)
		case "minSessionTimeout":
			err = intVal(&c.MinSessionTimeout)
		case "maxSessionTimeout":
			err = intVal(&c.MaxSessionTimeout)
		case "initLimit":
			err = intVal(&c.InitLimit)
			if err == nil && c.InitLimit < 0 {
				err = p.errf(line, key, "must not be negative: %d", c.InitLimit)
			}
		case "syncLimit":
			err = intVal(&c.SyncLimit)
			if err == nil && c.SyncLimit < 0 {
				err = p.errf(line, key, "must not be negative: %d", c.SyncLimit)
			}
		case "connectToLearnerMasterLimit":
			err = intVal(&c.ConnectToLearnerMasterLimit)
		case "electionAlg":
			err = intVal(&c.ElectionAlg)
			if err == nil && c.ElectionAlg != 3 {
				err = p.errf(line, key, "invalid value %d: only 3 is supported", c.ElectionAlg)
			}
		case "quorumListenOnAllIPs":
			err = boolVal(&c.QuorumListenOnAllIPs)
		case "peerType":
			switch strings.ToLower(value) {
			case Observer, Participant:
				c.PeerType = strings.ToLower(value)
			default:
				err = p.errf(line, key, "unrecognised peer type %q (participant or observer)", value)
			}
		case "syncEnabled":
			err = boolVal(&c.SyncEnabled)
		case "dynamicConfigFile":
			c.DynamicConfigFile = value
		case "autopurge.snapRetainCount":
			err = intVal(&c.SnapRetainCount)
			if err == nil && c.SnapRetainCount < DefaultSnapRetainCount {
				p.warnf(line, "invalid autopurge.snapRetainCount %d: using %d", c.SnapRetainCount, DefaultSnapRetainCount)
				c.SnapRetainCount = DefaultSnapRetainCount
			}
		case "autopurge.purgeInterval":
			err = intVal(&c.PurgeInterval)
		case "standaloneEnabled":
			err = boolVal(&c.StandaloneEnabled)
		case "reconfigEnabled":
			err = boolVal(&c.ReconfigEnabled)
		default:
			switch {
			case otherBoolKeys[key]:
				var b bool
				if err = boolVal(&b); err == nil {
					c.Other[key] = strconv.FormatBool(b)
				}
			case otherIntKeys[key]:
				var n int
				if err = intVal(&n); err == nil {
					c.Other[key] = value
				}
			case otherLongKeys[key]:
				if _, perr := strconv.ParseInt(value, 10, 64); perr != nil {
					err = p.errf(line, key, "not a number: %q", value)
				} else {
					c.Other[key] = value
				}
			case otherStringKeys[key] || strings.HasPrefix(key, "metricsProvider."):
				c.Other[key] = value
			case strings.HasPrefix(key, "server.") || strings.HasPrefix(key, "group") || strings.HasPrefix(key, "weight"):
				if hasDynamic {
					err = p.errf(line, key, "must be in the separate dynamic config file (dynamicConfigFile is set)")
					break
				}
				// Upstream also sets these as zookeeper.<key> system properties.
				c.setFileProperty(key, value)
				p.quorum = append(p.quorum, e)
			default:
				p.unknownKey(line, key, value)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	if len(c.Other) > 0 {
		keys := sortedKeys(c.Other)
		p.warnf(0, "settings accepted but not acted on by this server: %s", strings.Join(keys, ", "))
	}
	if c.Other["quorum.auth.enableSasl"] != "true" && c.Other["quorum.auth.serverRequireSasl"] == "true" {
		return nil, p.errf(0, "quorum.auth.serverRequireSasl", "quorum.auth.enableSasl is disabled, so cannot enable quorum.auth.serverRequireSasl")
	}
	if c.Other["quorum.auth.enableSasl"] != "true" && c.Other["quorum.auth.learnerRequireSasl"] == "true" {
		return nil, p.errf(0, "quorum.auth.learnerRequireSasl", "quorum.auth.enableSasl is disabled, so cannot enable quorum.auth.learnerRequireSasl")
	}
	if c.Other["quorum.auth.learnerRequireSasl"] != "true" && c.Other["quorum.auth.serverRequireSasl"] == "true" {
		return nil, p.errf(0, "quorum.auth.serverRequireSasl", "quorum.auth.learnerRequireSasl is disabled, so cannot enable quorum.auth.serverRequireSasl")
	}
	if !dataDirSet || c.DataDir == "" {
		return nil, p.errf(0, "dataDir", "is not set")
	}
	if c.DataLogDir == "" {
		c.DataLogDir = c.DataDir
	}
	if c.ClientPort == 0 {
		if haveAddr {
			return nil, p.errf(clientPortLine, "clientPortAddress", "is set but clientPort is not set")
		}
	} else {
		if c.ClientPort < 0 || c.ClientPort > 65535 {
			return nil, p.errf(clientPortLine, "clientPort", "port out of range: %d", c.ClientPort)
		}
		c.ClientPortAddress = "0.0.0.0"
		if haveAddr {
			c.ClientPortAddress = clientPortAddress
		}
	}
	if c.SecureClientPort == 0 {
		if haveSecureAddr {
			return nil, p.errf(secureLine, "secureClientPortAddress", "is set but secureClientPort is not set")
		}
	} else {
		if c.SecureClientPort < 0 || c.SecureClientPort > 65535 {
			return nil, p.errf(secureLine, "secureClientPort", "port out of range: %d", c.SecureClientPort)
		}
		c.SecureClientPortAddress = "0.0.0.0"
		if haveSecureAddr {
			c.SecureClientPortAddress = secureClientPortAddress
		}
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

// unknownKey stores a key that is not a setting as the system property
// zookeeper.<key>, as QuorumPeerConfig does, warning when that is likely not
// what the author meant.
func (p *parser) unknownKey(line int, key, value string) {
	c := p.c
	c.setFileProperty(key, value)
	switch {
	case strings.HasPrefix(key, "zookeeper."):
		p.warnf(line, "%s becomes system property zookeeper.%s, which nothing reads: drop the zookeeper. prefix", key, key)
	case key == "jute.maxbuffer" || key == "readonlymode.enabled" || strings.HasPrefix(key, "znode.container."):
		p.warnf(line, "%s becomes system property zookeeper.%s and has no effect (upstream reads %s only as a -D flag in SERVER_JVMFLAGS or JVMFLAGS)", key, key, key)
	case knownPropertyKeys[key]:
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
	c.Servers = map[int64]Server{}
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
			s, msg := parseServer(id, e.Value)
			if msg != "" {
				return errf(e.Line, key, "%s", msg)
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

const wrongFormat = "does not have the form host:port:port[:role][;[clientHost:]clientPort]"

// parseServer parses the value of a server.N line as QuorumServer does.
// It returns a non-empty message when the value is bad.
func parseServer(id int64, value string) (Server, string) {
	s := Server{ID: id, Role: Participant}
	parts := javaSplit(value, ';')
	if len(parts) > 2 || len(parts) == 0 {
		return s, fmt.Sprintf("%q %s", value, wrongFormat)
	}
	addrs := javaSplit(parts[0], '|')
	if len(addrs) == 0 {
		return s, fmt.Sprintf("%q %s", value, wrongFormat)
	}
	if len(parts) == 2 {
		cp, msg := hostAndPort(parts[1])
		if msg != "" {
			return s, msg
		}
		if len(cp) > 2 || len(cp) == 0 {
			return s, fmt.Sprintf("%q %s", value, wrongFormat)
		}
		s.ClientHost = "0.0.0.0"
		if len(cp) == 2 {
			s.ClientHost = cp[0]
		}
		port, msg := parsePort("client", cp[len(cp)-1])
		if msg != "" {
			return s, msg
		}
		s.ClientPort = port
	}
	if len(addrs) > 1 {
		return s, "multiple addresses (|) are not supported (upstream needs multiAddress.enabled)"
	}
	sp, msg := hostAndPort(addrs[0])
	if msg != "" {
		return s, msg
	}
	if len(sp) < 3 || len(sp) > 4 {
		return s, fmt.Sprintf("%q %s", value, wrongFormat)
	}
	s.Host = sp[0]
	if s.QuorumPort, msg = parsePort("quorum", sp[1]); msg != "" {
		return s, msg
	}
	if s.ElectionPort, msg = parsePort("election", sp[2]); msg != "" {
		return s, msg
	}
	if s.QuorumPort == s.ElectionPort {
		return s, fmt.Sprintf("quorum and election port must be different (both %d)", s.QuorumPort)
	}
	if len(sp) == 4 {
		switch r := strings.ToLower(javaTrim(sp[3])); r {
		case Observer, Participant:
			s.Role = r
		default:
			return s, fmt.Sprintf("unrecognised peer type %q (participant or observer)", sp[3])
		}
	}
	return s, ""
}

func parsePort(what, s string) (int, string) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		hint := ""
		if strings.TrimSpace(s) != s {
			hint = " (blanks are not allowed here; upstream rejects them too)"
		}
		return 0, fmt.Sprintf("%s port %q is not a number%s", what, s, hint)
	}
	if n < 0 || n > 65535 {
		return 0, fmt.Sprintf("%s port out of range: %d", what, n)
	}
	return int(n), ""
}

// hostAndPort is ConfigUtils.getHostAndPort: it splits on ':' after an
// optional [IPv6 literal].
func hostAndPort(s string) ([]string, string) {
	if strings.HasPrefix(s, "[") {
		i := strings.IndexByte(s, ']')
		if i < 0 {
			return nil, fmt.Sprintf("%q starts with '[' but has no matching ']:'", s)
		}
		if i+2 == len(s) {
			return nil, fmt.Sprintf("%q doesn't have a port after colon", s)
		}
		if i+2 < len(s) {
			return append([]string{s[1:i]}, javaSplit(s[i+2:], ':')...), ""
		}
		return []string{strings.NewReplacer("[", "", "]", "").Replace(s)}, ""
	}
	return javaSplit(s, ':'), ""
}

// javaSplit is String.split with a one-character pattern: trailing empty
// strings are dropped (but "" splits to [""]).
func javaSplit(s string, sep byte) []string {
	parts := strings.Split(s, string(sep))
	n := len(parts)
	for n > 0 && parts[n-1] == "" {
		n--
	}
	if n == 0 {
		if s == "" {
			return []string{""}
		}
		return []string{}
	}
	return parts[:n]
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
	if !p.haveQuorum {
		// A dynamic file that Parse did not read: nothing more to check.
		return p.requireClientPort()
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
	role := Participant
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
				return &Error{File: p.myidFile, Line: p.myidLine, Key: "myid", Msg: fmt.Sprintf("server id %d is not in the servers list of %s (ids: %v)", c.MyID, p.quorumFile, sortedIDs(c.Servers))}
			}
		}
	}
	return p.requireClientPort()
}

// requireClientPort refuses a configuration on which no client could
// connect (upstream would start without a client listener).
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
func (c *Config) Voters() []Server { return c.serversWithRole(Participant) }

// Observers are the observers, sorted by id.
func (c *Config) Observers() []Server { return c.serversWithRole(Observer) }

func (c *Config) serversWithRole(role string) []Server {
	var out []Server
	for _, id := range sortedIDs(c.Servers) {
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

func sortedIDs(m map[int64]Server) []int64 {
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
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
