package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// The tests of this file keep deploy/ true to the code: every zkbench
// command line in a systemd unit passes zkbench's own flag parsing, so
// that renaming a flag breaks the test rather than a deployment. Nothing
// is executed.

// deployDir is the repository's deploy directory, from this package.
const deployDir = "../../deploy"

// parseCommandLine takes args (without the program name) through
// zkbench's command tree as Execute does, short of running the command:
// it finds the subcommand, parses its flags and checks its positional
// arguments, required flags and flag groups.
func parseCommandLine(args []string) (*cobra.Command, error) {
	root := newRoot(io.Discard, io.Discard)
	cmd, rest, err := root.Find(args)
	if err != nil {
		return nil, fmt.Errorf("zkbench %s: %w", strings.Join(args, " "), err)
	}
	if cmd == root || !cmd.Runnable() {
		return nil, fmt.Errorf("zkbench %s: names no zkbench command", strings.Join(args, " "))
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return nil, fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		return nil, fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	if err := cmd.ValidateRequiredFlags(); err != nil {
		return nil, fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	if err := cmd.ValidateFlagGroups(); err != nil {
		return nil, fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	return cmd, nil
}

// flag returns the value of a parsed command's flag.
func flag(t *testing.T, cmd *cobra.Command, name string) string {
	t.Helper()
	f := cmd.Flags().Lookup(name)
	if f == nil {
		t.Fatalf("%s has no flag --%s", cmd.CommandPath(), name)
	}
	return f.Value.String()
}

func TestParseCommandLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // "" = parses
	}{
		{[]string{"agent", "--coord", "c:2191", "--name", "a1", "--no-server"}, ""},
		{[]string{"coordinator", "--port", "2191"}, ""},
		{[]string{"agent", "--coordinator", "c:2191"}, "unknown flag: --coordinator"},
		{[]string{"coordinator", "--port", "many"}, `invalid argument "many"`},
		{[]string{"agent", "extra"}, "unknown command"},
		{[]string{"deploy"}, "unknown command"},
		{nil, "names no zkbench command"},
	} {
		_, err := parseCommandLine(tc.args)
		if tc.want == "" && err != nil {
			t.Errorf("%q: %v", tc.args, err)
		}
		if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%q: got %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}

// dockerEntrypoint returns the ENTRYPOINT of deploy/Dockerfile's last
// stage, in its exec (JSON) form.
func dockerEntrypoint(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var entry []string
	for _, line := range strings.Split(string(b), "\n") {
		word, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch strings.ToUpper(word) {
		case "FROM":
			entry = nil
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(rest), &entry); err != nil {
				t.Fatalf("Dockerfile: ENTRYPOINT %s: want the exec form [\"...\"]: %v", rest, err)
			}
		}
	}
	if len(entry) == 0 {
		t.Fatal("Dockerfile: the last stage has no ENTRYPOINT")
	}
	return entry
}

// zkbenchPath is where the image and the systemd units install zkbench.
const zkbenchPath = "/usr/local/bin/zkbench"

func TestDockerfileEntrypoint(t *testing.T) {
	if got := dockerEntrypoint(t); !slices.Equal(got, []string{zkbenchPath}) {
		t.Errorf("ENTRYPOINT %q, want [%q] (where the systemd units and README put zkbench)", got, zkbenchPath)
	}
}

// unit is a systemd unit file: its settings by section, in order.
type unit map[string]map[string][]string

// parseUnit reads a unit file: sections, Key=Value lines, comments and
// backslash continuations.
func parseUnit(b []byte) (unit, error) {
	u := unit{}
	section := ""
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		for strings.HasSuffix(line, `\`) && i+1 < len(lines) {
			i++
			line = strings.TrimSuffix(line, `\`) + " " + strings.TrimSpace(lines[i])
		}
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				return nil, fmt.Errorf("line %d: %q is no Key=Value in a section", i+1, line)
			}
			k = strings.TrimSpace(k)
			u[section][k] = append(u[section][k], strings.TrimSpace(v))
		}
	}
	return u, nil
}

// parseEnvFile reads a systemd EnvironmentFile: KEY=VALUE lines, comments,
// values optionally in single or double quotes.
func parseEnvFile(b []byte) (map[string]string, error) {
	env := map[string]string{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: %q is no KEY=VALUE", i+1, line)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		env[strings.TrimSpace(k)] = v
	}
	return env, nil
}

var (
	braced = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	bare   = regexp.MustCompile(`^\$([A-Za-z_][A-Za-z0-9_]*)$`)
)

// execArgv splits an ExecStart= line into its arguments as systemd does:
// words (double quotes group), "${VAR}" replaced within a word, a word
// that is exactly "$VAR" split on white space, "%%" as "%". Other
// specifiers and variables env does not define are errors.
func execArgv(line string, env map[string]string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range line {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case (r == ' ' || r == '\t') && !quoted:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
			}
			inWord = false
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quote in %q", line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	var argv []string
	for _, w := range words {
		if m := bare.FindStringSubmatch(w); m != nil {
			v, ok := env[m[1]]
			if !ok {
				return nil, fmt.Errorf("$%s is not in the environment file", m[1])
			}
			argv = append(argv, strings.Fields(v)...)
			continue
		}
		var err error
		w = braced.ReplaceAllStringFunc(w, func(ref string) string {
			name := braced.FindStringSubmatch(ref)[1]
			v, ok := env[name]
			if !ok {
				err = fmt.Errorf("${%s} is not in the environment file", name)
			}
			return v
		})
		if err != nil {
			return nil, err
		}
		if strings.Contains(strings.ReplaceAll(w, "%%", ""), "%") {
			return nil, fmt.Errorf("%q: specifiers are not expected", w)
		}
		argv = append(argv, strings.ReplaceAll(w, "%%", "%"))
	}
	return argv, nil
}

// sysDir is deploy/systemd.
var sysDir = filepath.Join(deployDir, "systemd")

// loadUnit reads deploy/systemd/name, its environment file (the one of
// deploy/systemd its EnvironmentFile= names) and parses its ExecStart.
func loadUnit(t *testing.T, name string) (unit, map[string]string, *cobra.Command) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sysDir, name))
	if err != nil {
		t.Fatal(err)
	}
	u, err := parseUnit(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	svc := u["Service"]
	env := map[string]string{}
	for _, ef := range svc["EnvironmentFile"] {
		ef = strings.TrimPrefix(ef, "-")
		if !strings.HasPrefix(ef, "/etc/zkbench/") {
			t.Errorf("%s: EnvironmentFile=%s: want /etc/zkbench/<file of deploy/systemd>", name, ef)
		}
		b, err := os.ReadFile(filepath.Join(sysDir, filepath.Base(ef)))
		if err != nil {
			t.Fatalf("%s: EnvironmentFile=%s: deploy/systemd ships no such file: %v", name, ef, err)
		}
		e, err := parseEnvFile(b)
		if err != nil {
			t.Fatalf("%s: %v", ef, err)
		}
		for k, v := range e {
			env[k] = v
		}
	}
	if len(svc["ExecStart"]) != 1 {
		t.Fatalf("%s: want one ExecStart=, have %q", name, svc["ExecStart"])
	}
	argv, err := execArgv(svc["ExecStart"][0], env)
	if err != nil {
		t.Fatalf("%s: ExecStart: %v", name, err)
	}
	if argv[0] != zkbenchPath {
		t.Errorf("%s: ExecStart runs %s, want %s", name, argv[0], zkbenchPath)
	}
	cmd, err := parseCommandLine(argv[1:])
	if err != nil {
		t.Fatalf("%s: ExecStart: %v", name, err)
	}
	return u, env, cmd
}

func TestExecArgv(t *testing.T) {
	env := map[string]string{"A": "a b", "E": "", "C": "h:1"}
	for _, tc := range []struct {
		line string
		want []string
		err  string
	}{
		{`/bin/x --coord ${C} $A`, []string{"/bin/x", "--coord", "h:1", "a", "b"}, ""},
		{`/bin/x ${A} $E "q r"`, []string{"/bin/x", "a b", "q r"}, ""},
		{`/bin/x pre${C}post 100%%`, []string{"/bin/x", "preh:1post", "100%"}, ""},
		{`/bin/x $MISSING`, nil, "$MISSING is not in the environment file"},
		{`/bin/x --name %H`, nil, "specifiers"},
	} {
		got, err := execArgv(tc.line, env)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: got %q, %v; want error %q", tc.line, got, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, %v; want %q", tc.line, got, err, tc.want)
		}
	}
}

func TestDeploySystemd(t *testing.T) {
	units, err := filepath.Glob(filepath.Join(sysDir, "*.service"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range units {
		names = append(names, filepath.Base(u))
	}
	if !slices.Equal(names, []string{"zkbench-agent.service", "zkbench-coordinator.service"}) {
		t.Fatalf("units %v: want zkbench-agent.service and zkbench-coordinator.service (extend this test for more)", names)
	}

	cu, _, coord := loadUnit(t, "zkbench-coordinator.service")
	if coord.Name() != "coordinator" {
		t.Fatalf("zkbench-coordinator.service runs zkbench %s", coord.Name())
	}
	if got := cu["Service"]["CapabilityBoundingSet"]; !slices.Equal(got, []string{""}) {
		t.Errorf("zkbench-coordinator.service: CapabilityBoundingSet=%q: the coordinator needs no capability", got)
	}
	if dir := flag(t, coord, "dir"); !slices.ContainsFunc(cu["Service"]["StateDirectory"], func(s string) bool { return "/var/lib/"+s == dir }) {
		t.Errorf("zkbench-coordinator.service: --dir %s is not its StateDirectory= (%q)", dir, cu["Service"]["StateDirectory"])
	}

	au, _, ag := loadUnit(t, "zkbench-agent.service")
	if ag.Name() != "agent" {
		t.Fatalf("zkbench-agent.service runs zkbench %s", ag.Name())
	}
	svc := au["Service"]
	for _, k := range []string{"CapabilityBoundingSet", "AmbientCapabilities"} {
		if !slices.Equal(svc[k], []string{"CAP_NET_ADMIN"}) {
			t.Errorf("zkbench-agent.service: %s=%q, want CAP_NET_ADMIN alone (nftables partitions)", k, svc[k])
		}
	}
	if !slices.ContainsFunc(svc["RestrictAddressFamilies"], func(s string) bool { return slices.Contains(strings.Fields(s), "AF_NETLINK") }) {
		t.Errorf("zkbench-agent.service: RestrictAddressFamilies=%q lacks AF_NETLINK (nftables speaks netlink)", svc["RestrictAddressFamilies"])
	}
	if slices.Contains(svc["MemoryDenyWriteExecute"], "yes") {
		t.Error("zkbench-agent.service: MemoryDenyWriteExecute=yes breaks the JIT of Java servers")
	}
	if km := svc["KillMode"]; len(km) > 0 && !slices.Equal(km, []string{"control-group"}) {
		t.Errorf("zkbench-agent.service: KillMode=%q: stopping the agent must stop its servers", km)
	}

	// The example agent environment points at the example coordinator.
	_, port, err := net.SplitHostPort(flag(t, ag, "coord"))
	if err != nil {
		t.Fatalf("zkbench-agent.service: --coord: %v", err)
	}
	if got := flag(t, coord, "port"); got != port {
		t.Errorf("agent.env's --coord port %s, the coordinator's --port %s", port, got)
	}
}
