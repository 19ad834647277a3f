package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// The tests of this file keep deploy/ true to the code: every manifest
// decodes strictly with the Kubernetes API types, what refers to what
// (selectors, ports, volumes, agent names, the coordinator's address)
// agrees, and every zkbench command line in a container, a systemd unit
// or the README's section on deployment passes zkbench's own flag
// parsing, so that renaming a flag breaks the test rather than a
// deployment. Nothing is executed.

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

// flagValue returns the value of a parsed command's flag.
func flagValue(t *testing.T, cmd *cobra.Command, name string) string {
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

// manifest is one object of deploy/kubernetes.
type manifest struct {
	file string
	obj  runtime.Object
}

// k8sDecoder decodes the core, apps and batch API groups strictly: an
// unknown or duplicated field is an error.
func k8sDecoder(t *testing.T) runtime.Decoder {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}

// decodeManifests decodes every YAML document of r.
func decodeManifests(dec runtime.Decoder, name string, r io.Reader) ([]manifest, error) {
	var out []manifest
	yr := k8syaml.NewYAMLReader(bufio.NewReader(r))
	for i := 1; ; i++ {
		doc, err := yr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		if len(m) == 0 {
			continue // comments only
		}
		obj, _, err := dec.Decode(doc, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		out = append(out, manifest{file: name, obj: obj})
	}
}

func TestDeployDecoderIsStrict(t *testing.T) {
	dec := k8sDecoder(t)
	good := "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports:\n  - port: 1\n"
	if _, err := decodeManifests(dec, "good", strings.NewReader(good)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		strings.Replace(good, "  ports:", "  portz:", 1),                           // unknown field
		strings.Replace(good, "  name: s\n", "  name: s\n  name: t\n", 1),          // duplicate field
		strings.Replace(good, "kind: Service", "kind: Servce", 1),                  // unknown kind
		strings.Replace(good, "  - port: 1", "  - port: one", 1),                   // wrong type
		good + "---\napiVersion: apps/v1\nkind: Deployment\nspec:\n  replica: 1\n", // second document
	} {
		if _, err := decodeManifests(dec, "bad", strings.NewReader(bad)); err == nil {
			t.Errorf("decoded without error:\n%s", bad)
		}
	}
}

// k8sDir is deploy/kubernetes.
var k8sDir = filepath.Join(deployDir, "kubernetes")

// kustomizationFile lists the manifests for kubectl apply -k.
const kustomizationFile = "kustomization.yaml"

// loadManifests decodes every manifest of deploy/kubernetes but the
// kustomization, and returns them with the files' names.
func loadManifests(t *testing.T) ([]manifest, []string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(k8sDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := k8sDecoder(t)
	var all []manifest
	var names []string
	for _, f := range files {
		if filepath.Base(f) == kustomizationFile {
			continue
		}
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := decodeManifests(dec, filepath.Base(f), r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			t.Errorf("%s holds no object", f)
		}
		all = append(all, ms...)
		names = append(names, filepath.Base(f))
	}
	if len(all) == 0 {
		t.Fatalf("no manifests in %s", k8sDir)
	}
	return all, names
}

// workload is an object that runs pods.
type workload struct {
	kind, name string
	replicas   int32
	selector   *metav1.LabelSelector // nil for a Job's or a Pod's own
	pod        corev1.PodTemplateSpec
	statefulOf string // a StatefulSet's serviceName
}

func (w workload) String() string { return w.kind + "/" + w.name }

// podNames returns the names of a workload's pods, when they are stable.
func (w workload) podNames() []string {
	switch w.kind {
	case "StatefulSet":
		var out []string
		for i := range w.replicas {
			out = append(out, fmt.Sprintf("%s-%d", w.name, i))
		}
		return out
	case "Pod":
		return []string{w.name}
	}
	return nil
}

// container is one container of a workload, its command line parsed.
type container struct {
	w    workload
	c    corev1.Container
	argv []string       // command + args, before $(VAR) expansion
	cmd  *cobra.Command // nil when argv does not run zkbench
}

func (c container) String() string { return c.w.String() + " container " + c.c.Name }

// Placeholders for the downward API's fields in expanded command lines,
// so that tests can see where a flag's value comes from.
const (
	fromPodName = "<metadata.name>"
	fromPodIP   = "<status.podIP>"
)

var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// expand replaces $(VAR) in s as the kubelet does, from the container's
// env: literal values as they are, the downward API's fields by the
// placeholders above. An undefined variable is an error (the kubelet
// would pass it on verbatim).
func expand(c corev1.Container, s string) (string, error) {
	var err error
	out := envRef.ReplaceAllStringFunc(s, func(ref string) string {
		name := envRef.FindStringSubmatch(ref)[1]
		for _, e := range c.Env {
			if e.Name != name {
				continue
			}
			if e.ValueFrom == nil {
				return e.Value
			}
			if e.ValueFrom.FieldRef != nil {
				return "<" + e.ValueFrom.FieldRef.FieldPath + ">"
			}
			err = fmt.Errorf("$(%s): only literal values and fieldRef are expected", name)
			return ref
		}
		err = fmt.Errorf("$(%s) is not in the container's env", name)
		return ref
	})
	return out, err
}

func TestDeployKubernetes(t *testing.T) {
	ms, files := loadManifests(t)
	entry := dockerEntrypoint(t)

	services := map[string]*corev1.Service{}
	claims := map[string]bool{}
	var workloads []workload
	for _, m := range ms {
		switch o := m.obj.(type) {
		case *corev1.Service:
			services[o.Name] = o
		case *corev1.PersistentVolumeClaim:
			claims[o.Name] = true
		case *corev1.Namespace:
		case *appsv1.Deployment:
			workloads = append(workloads, workload{kind: "Deployment", name: o.Name, replicas: ptrOr(o.Spec.Replicas, 1), selector: o.Spec.Selector, pod: o.Spec.Template})
		case *appsv1.StatefulSet:
			workloads = append(workloads, workload{kind: "StatefulSet", name: o.Name, replicas: ptrOr(o.Spec.Replicas, 1), selector: o.Spec.Selector, pod: o.Spec.Template, statefulOf: o.Spec.ServiceName})
		case *batchv1.Job:
			workloads = append(workloads, workload{kind: "Job", name: o.Name, replicas: 1, pod: o.Spec.Template})
		case *corev1.Pod:
			workloads = append(workloads, workload{kind: "Pod", name: o.Name, replicas: 1, pod: corev1.PodTemplateSpec{ObjectMeta: o.ObjectMeta, Spec: o.Spec}})
		default:
			t.Errorf("%s: %T is not expected in deploy/kubernetes (extend this test)", m.file, m.obj)
		}
	}

	t.Run("kustomization", func(t *testing.T) {
		checkKustomization(t, files, workloads)
	})

	// Selectors select their own pods.
	for _, w := range workloads {
		if w.selector == nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(w.selector)
		if err != nil {
			t.Errorf("%s: selector: %v", w, err)
			continue
		}
		if sel.Empty() || !sel.Matches(labels.Set(w.pod.Labels)) {
			t.Errorf("%s: selector %v does not select its pods (labels %v)", w, sel, w.pod.Labels)
		}
	}

	// Every Service selects pods, and its ports are theirs.
	selected := func(s *corev1.Service) []workload {
		var out []workload
		for _, w := range workloads {
			if len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(w.pod.Labels)) {
				out = append(out, w)
			}
		}
		return out
	}
	for _, s := range services {
		ws := selected(s)
		if len(ws) == 0 {
			t.Errorf("Service %s: selector %v selects no pods", s.Name, s.Spec.Selector)
		}
		for _, p := range s.Spec.Ports {
			for _, w := range ws {
				if !exposes(w.pod.Spec, p) {
					t.Errorf("Service %s: port %s (%d -> %s) is no container port of %s", s.Name, p.Name, p.Port, p.TargetPort.String(), w)
				}
			}
		}
	}

	// A StatefulSet's pods have names in DNS through a headless Service
	// that selects them: server agents reach each other by them.
	for _, w := range workloads {
		if w.kind != "StatefulSet" {
			continue
		}
		s := services[w.statefulOf]
		switch {
		case s == nil:
			t.Errorf("%s: serviceName %q is no Service here", w, w.statefulOf)
		case s.Spec.ClusterIP != corev1.ClusterIPNone:
			t.Errorf("%s: Service %s is not headless (clusterIP: None)", w, s.Name)
		case !slices.ContainsFunc(selected(s), func(o workload) bool { return o.name == w.name && o.kind == w.kind }):
			t.Errorf("%s: Service %s does not select its pods", w, s.Name)
		}
	}

	// The containers: one image, and command lines zkbench parses.
	var cs []container
	images := map[string]bool{}
	for _, w := range workloads {
		for _, c := range append(slices.Clone(w.pod.Spec.InitContainers), w.pod.Spec.Containers...) {
			images[c.Image] = true
			ct := container{w: w, c: c, argv: append(slices.Clone(c.Command), c.Args...)}
			if len(c.Command) == 0 {
				ct.argv = append(slices.Clone(entry), c.Args...)
			}
			if ct.argv[0] != zkbenchPath {
				// The results reader only holds the volume for kubectl cp.
				if !slices.Equal(ct.argv, []string{"sleep", "infinity"}) {
					t.Errorf("%s: runs %q: want zkbench, or sleep infinity", ct, ct.argv)
				}
				cs = append(cs, ct)
				continue
			}
			var args []string
			for _, a := range ct.argv[1:] {
				x, err := expand(c, a)
				if err != nil {
					t.Errorf("%s: %v", ct, err)
				}
				args = append(args, x)
			}
			cmd, err := parseCommandLine(args)
			if err != nil {
				t.Errorf("%s: %v", ct, err)
				continue
			}
			ct.cmd = cmd
			cs = append(cs, ct)
		}
	}
	if len(images) != 1 {
		t.Errorf("containers use images %v: want one zkbench image throughout", slices.Sorted(maps.Keys(images)))
	}

	byCommand := func(name string) []container {
		var out []container
		for _, c := range cs {
			if c.cmd != nil && c.cmd.Name() == name {
				out = append(out, c)
			}
		}
		return out
	}
	coords := byCommand("coordinator")
	agents := byCommand("agent")
	var runs []container // runs driven through the agents
	for _, c := range cs {
		if c.cmd != nil && c.cmd.Flags().Changed("agents") {
			runs = append(runs, c)
		}
	}
	if len(coords) != 1 || coords[0].w.replicas != 1 {
		t.Fatalf("want one container running one zkbench coordinator, have %d", len(coords))
	}
	if len(agents) == 0 || len(runs) != 1 || runs[0].w.kind != "Job" {
		t.Fatalf("want agents and one Job of a run with --agents, have %d agents and %d runs", len(agents), len(runs))
	}

	// The coordination server is reached through a Service on its port.
	coord := coords[0]
	coordPort, _ := strconv.Atoi(flagValue(t, coord.cmd, "port"))
	if !exposes(coord.w.pod.Spec, corev1.ServicePort{Port: int32(coordPort)}) {
		t.Errorf("%s: --port %d is not its containerPort", coord, coordPort)
	}
	checkCoordAddr := func(who container, connect string) {
		host, port, err := net.SplitHostPort(strings.SplitN(connect, "/", 2)[0])
		if err != nil {
			t.Errorf("%s: coordination address %q: %v", who, connect, err)
			return
		}
		s := services[strings.Split(host, ".")[0]]
		if s == nil {
			t.Errorf("%s: coordination address %q: %s is no Service here", who, connect, host)
			return
		}
		if !slices.ContainsFunc(selected(s), func(w workload) bool { return w.name == coord.w.name }) {
			t.Errorf("%s: Service %s does not select the coordinator %s", who, s.Name, coord.w)
		}
		for _, p := range s.Spec.Ports {
			if n, ok := containerPort(coord.w.pod.Spec, p); ok && strconv.Itoa(int(p.Port)) == port && int(n) == coordPort {
				return
			}
		}
		t.Errorf("%s: coordination address %q: Service %s has no port %s to the coordinator's %d", who, connect, s.Name, port, coordPort)
	}

	// Agents: named after their pods, reachable at their pods' IPs, the
	// server agents able to apply network faults, spread over nodes.
	serverAgents, clientAgents := map[string]bool{}, map[string]bool{}
	for _, a := range agents {
		checkCoordAddr(a, flagValue(t, a.cmd, "coord"))
		if a.w.kind != "StatefulSet" {
			t.Errorf("%s: agents run in StatefulSets (stable names for --server-agents and --client-agents)", a)
		}
		if got := flagValue(t, a.cmd, "name"); got != fromPodName {
			t.Errorf("%s: --name %q, want the pod's name from the downward API (metadata.name)", a, got)
		}
		if got := flagValue(t, a.cmd, "addr"); got != fromPodIP {
			t.Errorf("%s: --addr %q, want the pod's IP from the downward API (status.podIP)", a, got)
		}
		role := clientAgents // checkHardening below checks their capabilities
		if flagValue(t, a.cmd, "no-server") != "true" {
			role = serverAgents
		}
		for _, n := range a.w.podNames() {
			role[n] = true
		}
		checkAntiAffinity(t, a.w)
	}

	// The run: agents that exist in the right roles, and results on a
	// volume a person can copy them from.
	run := runs[0]
	checkCoordAddr(run, flagValue(t, run.cmd, "agents"))
	sa := strings.Split(flagValue(t, run.cmd, "server-agents"), ",")
	for _, n := range sa {
		if !serverAgents[n] {
			t.Errorf("%s: --server-agents %s: no server agent pod of that name (have %v)", run, n, slices.Sorted(maps.Keys(serverAgents)))
		}
	}
	if got := flagValue(t, run.cmd, "servers"); got != strconv.Itoa(len(sa)) {
		t.Errorf("%s: --servers %s but %d server agents", run, got, len(sa))
	}
	for _, n := range strings.Split(flagValue(t, run.cmd, "client-agents"), ",") {
		if !clientAgents[n] {
			t.Errorf("%s: --client-agents %s: no client agent pod of that name (have %v)", run, n, slices.Sorted(maps.Keys(clientAgents)))
		}
	}
	out := flagValue(t, run.cmd, "out")
	claim := claimAt(run.w.pod.Spec, run.c, out)
	if claim == "" || !claims[claim] {
		t.Errorf("%s: --out %s is not on a PersistentVolumeClaim of these manifests (claim %q)", run, out, claim)
	}
	readers := 0
	for _, c := range cs {
		if c.cmd == nil && claimAt(c.w.pod.Spec, c.c, "") == claim {
			readers++
		}
	}
	if readers != 1 {
		t.Errorf("want one pod that mounts the results' claim %q for kubectl cp, have %d", claim, readers)
	}

	// Hardening: no container may gain privileges or write its image,
	// none keeps a capability but server agents' NET_ADMIN, and only they
	// run as root. What zkbench writes is on volumes: the coordinator's
	// --dir, and /tmp, where agents put their servers' directories.
	for _, c := range cs {
		checkHardening(t, c, c.cmd != nil && c.cmd.Name() == "agent" && flagValue(t, c.cmd, "no-server") == "false")
		if c.cmd == nil {
			continue
		}
		need := []string{"/tmp"}
		if c.cmd.Name() == "coordinator" {
			need = []string{flagValue(t, c.cmd, "dir")}
		}
		for _, p := range need {
			if mountAt(c.c, p) == nil {
				t.Errorf("%s: %s is on its read-only root file system: mount a volume there", c, p)
			}
		}
	}
}

// checkHardening checks c's security context; a server agent runs as
// root holding NET_ADMIN alone (Kubernetes gives added capabilities to
// root only).
func checkHardening(t *testing.T, c container, serverAgent bool) {
	t.Helper()
	sc := c.c.SecurityContext
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("%s: want allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities drop [ALL]", c)
		return
	}
	wantAdd := []corev1.Capability(nil)
	if serverAgent {
		wantAdd = []corev1.Capability{"NET_ADMIN"}
	}
	if !slices.Equal(sc.Capabilities.Add, wantAdd) {
		t.Errorf("%s: adds capabilities %v, want %v", c, sc.Capabilities.Add, wantAdd)
	}
	ps := c.w.pod.Spec.SecurityContext
	root := sc.RunAsUser != nil && *sc.RunAsUser == 0
	nonRoot := ps != nil && ps.RunAsNonRoot != nil && *ps.RunAsNonRoot && ps.RunAsUser != nil && *ps.RunAsUser != 0 && sc.RunAsUser == nil
	switch {
	case serverAgent && !root:
		t.Errorf("%s: a server agent runs as root (runAsUser: 0), or NET_ADMIN is not effective", c)
	case !serverAgent && !nonRoot:
		t.Errorf("%s: want the pod's runAsNonRoot: true and a runAsUser other than 0", c)
	}
	if ps == nil || ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: want the pod's seccompProfile RuntimeDefault", c)
	}
}

// mountAt returns the volume mount of c that holds path (the deepest), or
// nil.
func mountAt(c corev1.Container, path string) *corev1.VolumeMount {
	var best *corev1.VolumeMount
	for i, m := range c.VolumeMounts {
		if path == m.MountPath || strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/") {
			if best == nil || len(m.MountPath) > len(best.MountPath) {
				best = &c.VolumeMounts[i]
			}
		}
	}
	return best
}

// ptrOr returns *p, or def when p is nil.
func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// targetPort returns the port a Service port forwards to, by number or
// name.
func targetPort(p corev1.ServicePort) string {
	if p.TargetPort.IntValue() == 0 && p.TargetPort.StrVal == "" {
		return strconv.Itoa(int(p.Port))
	}
	return p.TargetPort.String()
}

// containerPort returns the container port of the pod that Service port
// p forwards to, by number or name.
func containerPort(spec corev1.PodSpec, p corev1.ServicePort) (int32, bool) {
	want := targetPort(p)
	for _, c := range spec.Containers {
		for _, cp := range c.Ports {
			if (cp.Name != "" && cp.Name == want) || strconv.Itoa(int(cp.ContainerPort)) == want {
				if p.Protocol == "" || cp.Protocol == "" || p.Protocol == cp.Protocol {
					return cp.ContainerPort, true
				}
			}
		}
	}
	return 0, false
}

// exposes reports whether a container of the pod listens on the port p
// forwards to.
func exposes(spec corev1.PodSpec, p corev1.ServicePort) bool {
	_, ok := containerPort(spec, p)
	return ok
}

// checkAntiAffinity checks that no two of w's pods may share a node: a
// required anti-affinity term by host name that selects them.
func checkAntiAffinity(t *testing.T, w workload) {
	t.Helper()
	a := w.pod.Spec.Affinity
	if a == nil || a.PodAntiAffinity == nil {
		t.Errorf("%s: no podAntiAffinity: agents must spread over nodes", w)
		return
	}
	for _, term := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
		sel, err := metav1.LabelSelectorAsSelector(term.LabelSelector)
		if err != nil {
			t.Errorf("%s: anti-affinity selector: %v", w, err)
			continue
		}
		if term.TopologyKey == corev1.LabelHostname && !sel.Empty() && sel.Matches(labels.Set(w.pod.Labels)) {
			return
		}
	}
	t.Errorf("%s: no required anti-affinity term keeps its pods on different nodes (%s)", w, corev1.LabelHostname)
}

// claimAt returns the PersistentVolumeClaim mounted where path is in
// container c ("" = at any mount), or "" if none.
func claimAt(spec corev1.PodSpec, c corev1.Container, path string) string {
	mounts := c.VolumeMounts
	if path != "" {
		m := mountAt(c, path)
		if m == nil {
			return ""
		}
		mounts = []corev1.VolumeMount{*m}
	}
	for _, m := range mounts {
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.PersistentVolumeClaim != nil {
				return v.PersistentVolumeClaim.ClaimName
			}
		}
	}
	return ""
}

// kustomization is the part of kustomize's Kustomization these manifests
// use (decoded strictly: anything else is an error).
type kustomization struct {
	APIVersion string           `json:"apiVersion"`
	Kind       string           `json:"kind"`
	Namespace  string           `json:"namespace"`
	Resources  []string         `json:"resources"`
	Images     []kustomizeImage `json:"images"`
}

// kustomizeImage retargets an image: kustomize edit set image.
type kustomizeImage struct {
	Name    string `json:"name"`
	NewName string `json:"newName,omitempty"`
	NewTag  string `json:"newTag,omitempty"`
}

// checkKustomization checks that kubectl apply -k applies every manifest
// and can retarget the image.
func checkKustomization(t *testing.T, files []string, ws []workload) {
	b, err := os.ReadFile(filepath.Join(k8sDir, kustomizationFile))
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(b, &k); err != nil {
		t.Fatalf("%s: %v", kustomizationFile, err)
	}
	if k.Kind != "Kustomization" || !strings.HasPrefix(k.APIVersion, "kustomize.config.k8s.io/") {
		t.Errorf("%s: kind %q apiVersion %q", kustomizationFile, k.Kind, k.APIVersion)
	}
	if !slices.Equal(slices.Sorted(slices.Values(k.Resources)), slices.Sorted(slices.Values(files))) {
		t.Errorf("%s: resources %v, want every manifest: %v", kustomizationFile, k.Resources, files)
	}
	for _, w := range ws {
		for _, c := range w.pod.Spec.Containers {
			if !slices.ContainsFunc(k.Images, func(i kustomizeImage) bool {
				return i.Name == strings.SplitN(c.Image, ":", 2)[0]
			}) {
				t.Errorf("%s: %s's image %s is not in images (so cannot be retargeted)", kustomizationFile, w, c.Image)
			}
		}
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
	if dir := flagValue(t, coord, "dir"); !slices.ContainsFunc(cu["Service"]["StateDirectory"], func(s string) bool { return "/var/lib/"+s == dir }) {
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
	_, port, err := net.SplitHostPort(flagValue(t, ag, "coord"))
	if err != nil {
		t.Fatalf("zkbench-agent.service: --coord: %v", err)
	}
	if got := flagValue(t, coord, "port"); got != port {
		t.Errorf("agent.env's --coord port %s, the coordinator's --port %s", port, got)
	}
}

// readmeSection is the README's section on deployment.
const readmeSection = "### Running on several machines"

// readmeCommands returns the zkbench command lines (without "zkbench") of
// the sh blocks of README.md's section titled title: backslash
// continuations joined, comments dropped, split on white space.
func readmeCommands(readme, title string) ([][]string, error) {
	_, sec, ok := strings.Cut(readme, "\n"+title+"\n")
	if !ok {
		return nil, fmt.Errorf("README.md has no section %q", title)
	}
	var out [][]string
	fence, sh := false, false // in a code block, of sh
	var line string
	for _, l := range strings.Split(sec, "\n") {
		switch {
		case strings.HasPrefix(l, "```"):
			fence = !fence
			sh = fence && l == "```sh"
			continue
		case !fence && strings.HasPrefix(l, "#"):
			return out, nil // the next section
		case !sh:
			continue
		}
		if cont, ok := strings.CutSuffix(l, `\`); ok {
			line += cont + " "
			continue
		}
		line += l
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		if f := strings.Fields(line); len(f) > 0 && f[0] == "zkbench" {
			out = append(out, f[1:])
		}
		line = ""
	}
	return out, nil
}

func TestReadmeCommandsExtracted(t *testing.T) {
	readme := "# x\n### Deploy\ntext\n```sh\nzkbench agent --coord c:1 \\\n    --no-server   # a comment\nkubectl apply -k .\n```\n" +
		"```\nzkbench not-sh\n# not a heading\n```\n```sh\nzkbench coordinator\n```\n### Next\n```sh\nzkbench run\n```\n"
	got, err := readmeCommands(readme, "### Deploy")
	want := [][]string{{"agent", "--coord", "c:1", "--no-server"}, {"coordinator"}}
	if err != nil || !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
}

func TestReadmeDeployCommands(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	cmds, err := readmeCommands(string(b), readmeSection)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, args := range cmds {
		cmd, err := parseCommandLine(args)
		if err != nil {
			t.Errorf("README.md: %v", err)
			continue
		}
		names = append(names, cmd.Name())
	}
	if want := []string{"coordinator", "agent", "agent", "reliability"}; !slices.Equal(names, want) {
		t.Errorf("README.md's %q runs zkbench %v, want %v", readmeSection, names, want)
	}
}
