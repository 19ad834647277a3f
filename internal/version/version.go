package version

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// Set with -ldflags -X by the Makefile (see the package doc).
var (
	revision string
	modified string
)

// Sources of a revision, in Info.Source.
const (
	SourceVCS    = "vcs"         // the toolchain's VCS stamp
	SourceLinker = "ldflags"     // the Makefile's -X flags
	SourceTree   = "source tree" // git, asked about the tree go run built from
)

// Info identifies a build.
type Info struct {
	// Module is the main module's path.
	Module string `json:"module"`
	// Version is the main module's version as the toolchain recorded it
	// ("(devel)" for a build of a checkout without a VCS stamp).
	Version string `json:"version"`
	// Revision is the VCS commit, "" when unknown.
	Revision string `json:"revision,omitempty"`
	// Modified says the tree had uncommitted changes.
	Modified bool `json:"modified,omitempty"`
	// Time is the commit's time, when the VCS stamp has it.
	Time string `json:"time,omitempty"`
	// Source is where Revision came from (SourceVCS, SourceLinker,
	// SourceTree), "" when it is unknown.
	Source string `json:"source,omitempty"`
	// GoVersion is the toolchain that built the binary.
	GoVersion string `json:"go_version"`
}

// String is a one-line version: the module version when the toolchain
// recorded one (a VCS-stamped build's pseudo-version names its commit),
// else the revision's first 12 digits ("+dirty" with local changes), else
// "devel".
func (i Info) String() string {
	if i.Version != "" && i.Version != "(devel)" {
		return i.Version
	}
	if i.Revision == "" {
		return "devel"
	}
	v := i.Revision[:min(12, len(i.Revision))]
	if i.Modified {
		v += "+dirty"
	}
	return v
}

// Get returns this binary's Info, worked out once.
var Get = sync.OnceValue(func() Info {
	i := fromBuildInfo()
	if i.Revision != "" {
		return i
	}
	if revision != "" {
		i.Revision, i.Modified, i.Source = revision, modified == "true", SourceLinker
		return i
	}
	exe, err := os.Executable()
	if err != nil || !builtByGoCommand(exe) {
		return i
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return i
	}
	if rev, dirty, ok := fromGit(filepath.Dir(file)); ok {
		i.Revision, i.Modified, i.Source = rev, dirty, SourceTree
	}
	return i
})

// fromBuildInfo reads what the toolchain recorded.
func fromBuildInfo() Info {
	i := Info{GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return i
	}
	i.Module, i.Version = bi.Main.Path, bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			i.Revision, i.Source = s.Value, SourceVCS
		case "vcs.modified":
			i.Modified = s.Value == "true"
		case "vcs.time":
			i.Time = s.Value
		}
	}
	return i
}

// builtByGoCommand reports whether exe lies in a go-build directory under
// the temporary directory, where go run and go test put the binaries they
// build and run at once.
func builtByGoCommand(exe string) bool {
	tmp := os.Getenv("GOTMPDIR")
	if tmp == "" {
		tmp = os.TempDir()
	}
	rel, err := filepath.Rel(tmp, exe)
	return err == nil && strings.HasPrefix(rel, "go-build")
}

// fromGit asks git for the revision of the tree holding dir and whether
// it has uncommitted changes.
func fromGit(dir string) (rev string, dirty, ok bool) {
	if _, err := os.Stat(dir); err != nil {
		return "", false, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return "", false, false
	}
	rev = strings.TrimSpace(string(out))
	st, err := exec.CommandContext(ctx, "git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output()
	if err != nil {
		return "", false, false
	}
	return rev, len(strings.TrimSpace(string(st))) > 0, rev != ""
}
