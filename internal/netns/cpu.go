package netns

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// A host may be limited to a share of the machine's CPUs, as a small
// client machine would be: a cgroup named after its namespace, under the
// cpu controller (cgroup v1's /sys/fs/cgroup/cpu, or the unified
// hierarchy's root where it offers cpu), with a CFS quota of that many
// cores per 100 ms period. Host.Command puts the process in it before it
// execs, so the command and everything it starts share the quota.

// cfsPeriod is the quota's period, in microseconds.
const cfsPeriod = 100000

// cpuRoot returns the cpu controller's directory and whether it is
// cgroup v2's.
func cpuRoot() (dir string, v2 bool, err error) {
	if _, err := os.Stat("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"); err == nil {
		return "/sys/fs/cgroup/cpu", false, nil
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers"); err == nil && strings.Contains(" "+string(b)+" ", " cpu ") {
		return "/sys/fs/cgroup", true, nil
	}
	return "", false, errors.New("netns: no cgroup cpu controller (neither /sys/fs/cgroup/cpu nor cgroup v2's cpu)")
}

// limitCPU makes the cgroup of namespace ns with a quota of cores.
func limitCPU(ns string, cores float64) error {
	root, v2, err := cpuRoot()
	if err != nil {
		return err
	}
	dir := filepath.Join(root, ns)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("netns: cgroup for %s: %w", ns, err)
	}
	quota := int(math.Round(cores * cfsPeriod))
	if v2 {
		os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("+cpu"), 0)
		err = os.WriteFile(filepath.Join(dir, "cpu.max"), []byte(fmt.Sprintf("%d %d", quota, cfsPeriod)), 0)
	} else {
		err = os.WriteFile(filepath.Join(dir, "cpu.cfs_period_us"), []byte(strconv.Itoa(cfsPeriod)), 0)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "cpu.cfs_quota_us"), []byte(strconv.Itoa(quota)), 0)
		}
	}
	if err != nil {
		return fmt.Errorf("netns: CPU quota of %s: %w", ns, err)
	}
	return nil
}

// hostCPU reads back the quota of namespace ns in cores (0: none) and
// its cgroup's process list.
func hostCPU(ns string) (cores float64, procs string) {
	root, v2, err := cpuRoot()
	if err != nil {
		return 0, ""
	}
	dir := filepath.Join(root, ns)
	var quota, period int
	if v2 {
		b, err := os.ReadFile(filepath.Join(dir, "cpu.max"))
		if f := strings.Fields(string(b)); err != nil || len(f) != 2 {
			return 0, ""
		} else {
			quota, _ = strconv.Atoi(f[0]) // "max": 0
			period, _ = strconv.Atoi(f[1])
		}
	} else {
		q, err1 := os.ReadFile(filepath.Join(dir, "cpu.cfs_quota_us"))
		p, err2 := os.ReadFile(filepath.Join(dir, "cpu.cfs_period_us"))
		if err1 != nil || err2 != nil {
			return 0, ""
		}
		quota, _ = strconv.Atoi(strings.TrimSpace(string(q)))
		period, _ = strconv.Atoi(strings.TrimSpace(string(p)))
	}
	if quota <= 0 || period <= 0 {
		return 0, ""
	}
	return float64(quota) / float64(period), filepath.Join(dir, "cgroup.procs")
}

// removeCPU removes namespace ns's cgroup, if any, once its processes are
// gone.
func removeCPU(ns string) error {
	root, _, err := cpuRoot()
	if err != nil {
		return nil
	}
	dir := filepath.Join(root, ns)
	for i := 0; ; i++ {
		err := os.Remove(dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if i == 50 {
			return fmt.Errorf("netns: cgroup %s: %w", dir, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
