package harness

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// LaunchMethod says how server processes are started, for the run record:
// a fair Go-vs-Java comparison needs both started alike.
const LaunchMethod = "direct child of the driver, driver's session (no setsid), own process group, Pdeathsig=SIGKILL"

// spawner starts processes from one goroutine locked to its OS thread.
// Pdeathsig fires when the thread that forked the child exits, not the
// process; forking from a thread that lives exactly as long as the Ensemble
// makes the signal mean "the driver (or this Ensemble) is gone".
type spawner struct {
	reqs chan func()
	done chan struct{}
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan func()), done: make(chan struct{})}
	go func() {
		runtime.LockOSThread()
		// Never unlocked: when this goroutine returns the thread exits and
		// every child it started receives SIGKILL.
		defer close(s.done)
		for f := range s.reqs {
			f()
		}
	}()
	return s
}

// start starts cmd on the spawner's thread.
func (s *spawner) start(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	s.reqs <- func() { errc <- cmd.Start() }
	return <-errc
}

// stop ends the spawner's thread and with it (through Pdeathsig) any child
// still alive.
func (s *spawner) stop() {
	close(s.reqs)
	<-s.done
}

// sysProcAttr is the one way every server process is launched.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup sends sig to the process group led by pid.
func killGroup(pid int, sig syscall.Signal) error {
	if pid <= 0 {
		return fmt.Errorf("harness: bad pid %d", pid)
	}
	err := syscall.Kill(-pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// clockTicks is USER_HZ, 100 on every Linux platform Go supports.
const clockTicks = 100

// procSample is what /proc says about one process.
type procSample struct {
	cpuSeconds float64 // user + system
	hwmKiB     int64   // peak resident set size (VmHWM)
	rssKiB     int64   // current resident set size (VmRSS)
}

// ProcessCPUSeconds is the user+system CPU time of process pid so far,
// all its threads included, from /proc/<pid>/stat.
func ProcessCPUSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("harness: cpu of %d: %w", pid, err)
	}
	sec, err := statCPUSeconds(b)
	if err != nil {
		return 0, fmt.Errorf("harness: /proc/%d/stat: %w", pid, err)
	}
	return sec, nil
}

// statCPUSeconds returns utime+stime in seconds from a /proc/<pid>/stat
// line. The command name (field 2) may hold spaces and ')', so fields are
// counted from after the last ')', where field 3 (state) starts.
func statCPUSeconds(line []byte) (float64, error) {
	i := bytes.LastIndexByte(line, ')')
	if i < 0 {
		return 0, errors.New("no ')'")
	}
	f := strings.Fields(string(line[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 13", len(f))
	}
	// utime and stime are fields 14 and 15, i.e. f[11] and f[12].
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return float64(ut+st) / clockTicks, nil
}

// readProc samples /proc/<pid>/stat and /proc/<pid>/status.
func readProc(pid int) (procSample, error) {
	var s procSample
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	if s.cpuSeconds, err = statCPUSeconds(b); err != nil {
		return s, fmt.Errorf("harness: /proc/%d/stat: %w", pid, err)
	}
	b, err = os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		switch k {
		case "VmHWM":
			dst = &s.hwmKiB
		case "VmRSS":
			dst = &s.rssKiB
		default:
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err == nil {
			*dst = n
		}
	}
	return s, nil
}

// procStateOf returns the state letter of /proc/<pid>/stat (R, S, T, Z...),
// or 0 if there is no such process.
func procStateOf(pid int) byte {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || len(b) <= i+2 {
		return 0
	}
	return b[i+2]
}

// procSession returns the session id of pid (field 6 of /proc/<pid>/stat),
// or -1.
func procSession(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 4 {
		return -1
	}
	sid, err := strconv.Atoi(f[3])
	if err != nil {
		return -1
	}
	return sid
}

// pidAlive reports whether pid names a process that has not been reaped
// and is not a zombie.
func pidAlive(pid int) bool {
	st := procStateOf(pid)
	return st != 0 && st != 'Z'
}

// LaunchInfo records how the ensemble's processes were started, for the
// run's record.
type LaunchInfo struct {
	Impl          string
	Method        string   // LaunchMethod, or "external"
	Command       []string // the command line of server 1 (config path last)
	Env           []string // variables added to every server's environment
	DriverSession int      // the driver's session id
	// SameSession is true when every running server was found in the
	// driver's session (as LaunchMethod promises).
	SameSession bool
}
