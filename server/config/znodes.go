package config

import (
	"strconv"
	"strings"
)

// Znode lifecycle settings: upstream reads them as system properties when
// the server starts (-D flags in SERVER_JVMFLAGS or JVMFLAGS; zoo.cfg's
// enforceQuota also becomes zookeeper.enforceQuota).

// Upstream's defaults for the container manager.
const (
	DefaultContainerCheckIntervalMs = 60000
	DefaultContainerMaxPerMinute    = 10000
)

// ContainerCheckIntervalMs is znode.container.checkIntervalMs
// (Integer.getInteger), how often the leader looks for containers and TTL
// nodes to delete; default 60000.
func (c *Config) ContainerCheckIntervalMs() int {
	return c.intProperty("znode.container.checkIntervalMs", DefaultContainerCheckIntervalMs)
}

// ContainerMaxPerMinute is znode.container.maxPerMinute (Integer.getInteger),
// the most deletions the container manager issues per minute; default 10000.
func (c *Config) ContainerMaxPerMinute() int {
	return c.intProperty("znode.container.maxPerMinute", DefaultContainerMaxPerMinute)
}

// ContainerMaxNeverUsedIntervalMs is znode.container.maxNeverUsedIntervalMs
// (Long.getLong): after this long a container that never had a child is
// deleted too; 0 (the default) never deletes such a container.
func (c *Config) ContainerMaxNeverUsedIntervalMs() int64 {
	if v, ok := c.Properties["znode.container.maxNeverUsedIntervalMs"]; ok {
		if n, ok := javaDecodeLong(v); ok {
			return n
		}
	}
	return 0
}

// EnforceQuota is zookeeper.enforceQuota (Boolean.parseBoolean): whether
// creates and setData that would exceed a quota's hard limit fail.
func (c *Config) EnforceQuota() bool {
	return strings.EqualFold(c.Properties["zookeeper.enforceQuota"], "true")
}

// intProperty is Integer.getInteger(key, def): the property's value if it
// decodes as an int, def otherwise.
func (c *Config) intProperty(key string, def int) int {
	if v, ok := c.Properties[key]; ok {
		if n, ok := javaDecodeInt(v); ok {
			return n
		}
	}
	return def
}

// javaDecodeLong is Long.decode: optional sign, then 0x/0X/# hex, 0 octal
// or decimal, no blanks.
func javaDecodeLong(s string) (int64, bool) {
	neg := false
	t := s
	if strings.HasPrefix(t, "-") || strings.HasPrefix(t, "+") {
		neg = t[0] == '-'
		t = t[1:]
	}
	base := 10
	switch {
	case strings.HasPrefix(t, "0x"), strings.HasPrefix(t, "0X"):
		base, t = 16, t[2:]
	case strings.HasPrefix(t, "#"):
		base, t = 16, t[1:]
	case strings.HasPrefix(t, "0") && len(t) > 1:
		base, t = 8, t[1:]
	}
	if t == "" || t[0] == '-' || t[0] == '+' {
		return 0, false
	}
	if neg {
		t = "-" + t // so that Long.MIN_VALUE decodes
	}
	n, err := strconv.ParseInt(t, base, 64)
	return n, err == nil
}
