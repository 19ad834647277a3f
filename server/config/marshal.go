package config

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/zkbench/zkbench/server/quorum"
)

// derivedKeys are zoo.cfg keys (system properties zookeeper.<key>) that
// Config also holds as typed fields.
var derivedKeys = []string{"snapCount", "preAllocSize", "forceSync", "leaderServes", "4lw.commands.whitelist"}

// Marshal renders the configuration as a zoo.cfg that Load (with the same
// environment) parses back to an equal Config and that upstream ZooKeeper
// accepts. Properties that came from -D flags of the environment are not
// written (JVMFlags lists the ones a zoo.cfg cannot carry). With a
// DynamicConfigFile, the server lines are not written here but by
// MarshalDynamic, whose output belongs in that file.
func (c *Config) Marshal() []byte {
	var b strings.Builder
	put := func(k, v string) { fmt.Fprintf(&b, "%s=%s\n", escapeKey(k), escapeValue(v)) }
	putInt := func(k string, v int) { put(k, strconv.Itoa(v)) }

	putInt("tickTime", c.TickTime)
	if c.InitLimit != 0 {
		putInt("initLimit", c.InitLimit)
	}
	if c.SyncLimit != 0 {
		putInt("syncLimit", c.SyncLimit)
	}
	if c.ConnectToLearnerMasterLimit != 0 {
		putInt("connectToLearnerMasterLimit", c.ConnectToLearnerMasterLimit)
	}
	put("dataDir", c.DataDir)
	if c.DataLogDir != "" && c.DataLogDir != c.DataDir {
		put("dataLogDir", c.DataLogDir)
	}
	if c.ClientPort != 0 {
		putInt("clientPort", c.ClientPort)
		if c.ClientPortAddress != "" && c.ClientPortAddress != "0.0.0.0" {
			put("clientPortAddress", c.ClientPortAddress)
		}
	}
	if c.SecureClientPort != 0 {
		putInt("secureClientPort", c.SecureClientPort)
		if c.SecureClientPortAddress != "" && c.SecureClientPortAddress != "0.0.0.0" {
			put("secureClientPortAddress", c.SecureClientPortAddress)
		}
	}
	if c.ClientPortListenBacklog != -1 {
		putInt("clientPortListenBacklog", c.ClientPortListenBacklog)
	}
	if c.ObserverMasterPort != 0 {
		putInt("observerMasterPort", c.ObserverMasterPort)
	}
	if c.MaxClientCnxns != DefaultMaxClientCnxns {
		putInt("maxClientCnxns", c.MaxClientCnxns)
	}
	if c.MinSessionTimeout != 2*c.TickTime {
		putInt("minSessionTimeout", c.MinSessionTimeout)
	}
	if c.MaxSessionTimeout != 20*c.TickTime {
		putInt("maxSessionTimeout", c.MaxSessionTimeout)
	}
	if c.SnapRetainCount != DefaultSnapRetainCount {
		putInt("autopurge.snapRetainCount", c.SnapRetainCount)
	}
	if c.PurgeInterval != 0 {
		putInt("autopurge.purgeInterval", c.PurgeInterval)
	}
	if !c.StandaloneEnabled {
		put("standaloneEnabled", "false")
	}
	if c.ReconfigEnabled {
		put("reconfigEnabled", "true")
	}
	if c.PeerType == quorum.Observer {
		put("peerType", quorum.Observer)
	}
	if c.QuorumListenOnAllIPs {
		put("quorumListenOnAllIPs", "true")
	}
	if !c.SyncEnabled {
		put("syncEnabled", "false")
	}
	for _, k := range slices.Sorted(maps.Keys(c.Other)) {
		put(k, c.Other[k])
	}

	// Typed fields that live in system properties: keep the written value
	// when it still yields the field, else write the field.
	derived := c.derivedValues()
	for _, k := range derivedKeys {
		if v, ok := derived[k]; ok {
			put(k, v)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Properties)) {
		key, ok := strings.CutPrefix(name, "zookeeper.")
		if !ok || isQuorumKey(key) || isDerived(key) {
			continue
		}
		v := c.Properties[name]
		if fv, inFile := c.fileProps[name]; !(inFile && fv == v) {
			if ev, inEnv := c.envProps[name]; inEnv && ev == v {
				continue // the environment supplies it
			}
		}
		put(key, v)
	}

	if c.DynamicConfigFile != "" {
		put("dynamicConfigFile", c.DynamicConfigFile)
	} else {
		b.Write(c.MarshalDynamic())
	}
	return []byte(b.String())
}

// MarshalDynamic renders the server.N lines, sorted by id, in the form a
// dynamic configuration file (or zoo.cfg) holds them.
func (c *Config) MarshalDynamic() []byte {
	var b strings.Builder
	for _, id := range slices.Sorted(maps.Keys(c.Servers)) {
		s := c.Servers[id]
		v := fmt.Sprintf("%s:%d", joinHostPort(s.Host, s.QuorumPort), s.ElectionPort)
		if s.Role == quorum.Observer {
			v += ":" + quorum.Observer
		}
		if s.ClientPort != 0 {
			if s.ClientHost == "" || s.ClientHost == "0.0.0.0" {
				v += fmt.Sprintf(";%d", s.ClientPort)
			} else {
				v += ";" + joinHostPort(s.ClientHost, s.ClientPort)
			}
		}
		fmt.Fprintf(&b, "server.%d=%s\n", id, escapeValue(v))
	}
	return []byte(b.String())
}

// JVMFlags returns, as -D flags sorted by name, the properties a zoo.cfg
// cannot carry (names not starting with "zookeeper.", such as
// jute.maxbuffer or readonlymode.enabled). Pass them in SERVER_JVMFLAGS.
func (c *Config) JVMFlags() []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(c.Properties)) {
		if !strings.HasPrefix(name, "zookeeper.") {
			out = append(out, "-D"+name+"="+c.Properties[name])
		}
	}
	return out
}

func isQuorumKey(k string) bool {
	return strings.HasPrefix(k, "server.") || strings.HasPrefix(k, "group") || strings.HasPrefix(k, "weight")
}

func isDerived(k string) bool {
	for _, d := range derivedKeys {
		if d == k {
			return true
		}
	}
	return false
}

// derivedValues returns the zoo.cfg values to write for the typed fields
// derived from system properties; a key is absent when neither the field
// differs from its default nor a property is set.
func (c *Config) derivedValues() map[string]string {
	// What the properties as they stand would give.
	probe := &Config{Properties: c.Properties, Path: c.Path}
	probe.derive(&parser{c: probe})
	out := map[string]string{}
	keep := func(k string, same, isDefault bool, formatted string) {
		v, ok := c.Properties["zookeeper."+k]
		switch {
		case ok && same:
			out[k] = v
		case !same || !isDefault:
			out[k] = formatted
		}
	}
	keep("snapCount", probe.SnapCount == c.SnapCount, c.SnapCount == DefaultSnapCount, strconv.Itoa(c.SnapCount))
	keep("preAllocSize", probe.PreAllocSize == c.PreAllocSize, c.PreAllocSize == DefaultPreAllocSize, strconv.FormatInt(c.PreAllocSize/1024, 10))
	keep("forceSync", probe.ForceSync == c.ForceSync, c.ForceSync, yesNo(c.ForceSync))
	keep("leaderServes", probe.LeaderServes == c.LeaderServes, c.LeaderServes, yesNo(c.LeaderServes))
	words := make([]string, 0, len(c.FourLetterWords))
	for w, on := range c.FourLetterWords {
		if on {
			words = append(words, w)
		}
	}
	sort.Strings(words)
	all := true
	for _, n := range FourLetterWordNames {
		all = all && c.FourLetterWords[n]
	}
	list := strings.Join(words, ",")
	if all {
		list = "*"
	}
	keep("4lw.commands.whitelist", sameSet(probe.FourLetterWords, c.FourLetterWords), list == "srvr", list)
	return out
}

func sameSet(a, b map[string]bool) bool {
	n := 0
	for k, v := range a {
		if v {
			n++
			if !b[k] {
				return false
			}
		}
	}
	for _, v := range b {
		if v {
			n--
		}
	}
	return n == 0
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func escapeKey(s string) string { return escape(s, true) }

func escapeValue(s string) string { return escape(s, false) }

// escape writes s the way java.util.Properties.store does.
func escape(s string, isKey bool) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == ' ' && (isKey || i == 0):
			b.WriteString(`\ `)
		case isKey && (r == '=' || r == ':' || r == '#' || r == '!'):
			b.WriteByte('\\')
			b.WriteRune(r)
		case !isKey && i == 0 && (r == '#' || r == '!' || r == '=' || r == ':'):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r > 0x7e:
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&b, `\u%04X`, u)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
