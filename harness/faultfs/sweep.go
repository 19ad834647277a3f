package faultfs

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// fsNamePrefix starts the source of every mount this package makes; the
// serving process's id follows a dot.
const fsNamePrefix = "zkbench-faultfs"

// Sweep unmounts (lazily) every faultfs mount whose serving process is
// gone: what a test killed before its cleanup left behind. Mounts served
// by a live process, this one or another, are left alone. It returns the
// mountpoints it unmounted.
func Sweep() ([]string, error) {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return nil, fmt.Errorf("faultfs: sweep: %w", err)
	}
	defer f.Close()
	var swept []string
	var errs []error
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		pid, ok := servingPID(fields[0])
		if !ok || processAlive(pid) {
			continue
		}
		mp := unescapeMount(fields[1])
		if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("unmount %s: %w", mp, err))
			continue
		}
		swept = append(swept, mp)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return swept, fmt.Errorf("faultfs: sweep: %w", err)
	}
	return swept, nil
}

// servingPID reads the process id out of a faultfs mount's source.
func servingPID(source string) (int, bool) {
	rest, ok := strings.CutPrefix(source, fsNamePrefix+".")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(rest)
	return pid, err == nil && pid > 0
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// unescapeMount undoes the octal escapes of /proc/self/mounts (\040 for a
// space, ...).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
