package profiles

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const header = "apiVersion: churn.dev/v1alpha1\nkind: Profile\n"

func TestDecodeKeepsDefaultsForOmittedFields(t *testing.T) {
	p, err := Decode([]byte(header + "name: tiny\nworkload:\n  replicas: 3\nchurn:\n  scale:\n    maxFactor: 1.5\n"))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	want := Defaults()
	want.Name = "tiny"
	want.Workload.Replicas = 3
	want.Churn.Scale.MaxFactor = 1.5
	if !reflect.DeepEqual(p, want) {
		t.Errorf("Decode kept the wrong fields:\n got %+v\nwant %+v", p, want)
	}
	// Spot-check defaults that the file left alone inside touched sections.
	if p.Workload.Namespaces != 5 || p.Churn.Scale.MinFactor != 0.85 || p.Churn.Scale.Interval.Duration != time.Second {
		t.Errorf("defaults lost next to set fields: %+v", p)
	}
	if len(p.Observers) != len(DefaultObserverNames()) {
		t.Errorf("observers = %v, want the defaults", p.Observers)
	}
}

func TestDecodeReplacesObserverList(t *testing.T) {
	p, err := Decode([]byte(header + "name: x\nobservers:\n  - name: probes\n"))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if len(p.Observers) != 1 || p.Observers[0].Name != "probes" {
		t.Errorf("observers = %+v, want exactly [probes]", p.Observers)
	}
}

func TestDecodeRejectsUnknownFieldsWithTheirPath(t *testing.T) {
	_, err := Decode([]byte(header + "name: x\nchurn:\n  scale:\n    minFactr: 0.5\nobservers:\n  - name: probes\n    intervl: 1s\nbogus: 1\n"))
	if err == nil {
		t.Fatal("Decode accepted unknown fields")
	}
	for _, path := range []string{"churn.scale.minFactr", "observers[0].intervl", "bogus"} {
		if !strings.Contains(err.Error(), path) {
			t.Errorf("error does not name %s: %v", path, err)
		}
	}
}

func TestDecodeRejectsDuplicateKeysAndWrongTypes(t *testing.T) {
	for name, doc := range map[string]string{
		"duplicate": header + "name: x\nname: y\n",
		"type":      header + "name: x\nnodes:\n  count: many\n",
	} {
		if _, err := Decode([]byte(doc)); err == nil {
			t.Errorf("%s: Decode accepted %q", name, doc)
		}
	}
}

func TestDecodeRequiresHeader(t *testing.T) {
	cases := map[string]string{
		"missing apiVersion": "kind: Profile\nname: x\n",
		"wrong apiVersion":   "apiVersion: churn.dev/v2\nkind: Profile\nname: x\n",
		"missing kind":       "apiVersion: churn.dev/v1alpha1\nname: x\n",
		"wrong kind":         "apiVersion: churn.dev/v1alpha1\nkind: Job\nname: x\n",
	}
	for name, doc := range cases {
		_, err := Decode([]byte(doc))
		field := "apiVersion"
		if strings.Contains(name, "kind") {
			field = "kind"
		}
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: err = %v, want one naming %s", name, err, field)
		}
	}
}

func TestValidateNamesEveryFieldPath(t *testing.T) {
	p := Defaults()
	p.Name = "Bad_Name"
	p.APIVersion = "v0"
	p.Nodes.Count = 0
	p.Nodes.CPU = "lots"
	p.Workload.Replicas = -1
	p.Workload.Image = ""
	p.Churn.Duration.Duration = 0
	p.Churn.Scale.MinFactor = 1.3
	p.Churn.Scale.Interval.Duration = time.Millisecond
	p.Churn.MaxInFlight = 0
	p.Mesh.Name = "linkerd"
	p.Mesh.Istiod = "maybe"
	p.Observers = append(p.Observers, ObserverSpec{Name: "probes"})
	err := p.Validate()
	if err == nil {
		t.Fatal("Validate accepted an invalid profile")
	}
	for _, path := range []string{
		"apiVersion", "name", "nodes.count", "nodes.cpu", "workload.replicas", "workload.image",
		"churn.duration", "churn.scale.minFactor", "churn.scale.interval", "churn.maxInFlight",
		"mesh.name", "mesh.istiod", "observers[6].name",
	} {
		if !strings.Contains(err.Error(), path+":") {
			t.Errorf("error does not name %s:\n%v", path, err)
		}
	}
	if !strings.Contains(err.Error(), "churn.scale.minFactor: Invalid value: 1.3") {
		t.Errorf("minFactor error does not show the value: %v", err)
	}
}

func TestValidateCapacityAndReplicaRange(t *testing.T) {
	p := Defaults()
	p.Name = "x"
	p.Nodes.Count = 1
	p.Nodes.Pods = 10 // 5 x 10 x 1.15 = 58 pods do not fit in 10
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "nodes.pods:") {
		t.Errorf("capacity: err = %v, want nodes.pods", err)
	}
	p = Defaults()
	p.Name = "x"
	p.Workload.Replicas = 10
	p.Churn.Scale.MinFactor, p.Churn.Scale.MaxFactor = 0.91, 0.99 // [9.1, 9.9] holds no whole count
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "churn.scale:") {
		t.Errorf("empty range: err = %v, want churn.scale", err)
	}
}

func TestValidateWithChecksObserverNames(t *testing.T) {
	p := Defaults()
	p.Name = "x"
	p.Observers = []ObserverSpec{{Name: "probes"}, {Name: "nope"}}
	known := func(n string) bool { return n == "probes" }
	err := p.ValidateWith(known)
	if err == nil || !strings.Contains(err.Error(), "observers[1].name") || strings.Contains(err.Error(), "observers[0]") {
		t.Errorf("ValidateWith = %v, want only observers[1].name", err)
	}
	if err := p.Validate(); err != nil {
		t.Errorf("Validate (no observer registry) = %v, want nil", err)
	}
}

func TestReplicaRangeAbsorbsFloatError(t *testing.T) {
	for _, c := range []struct {
		base, lo, hi int
	}{{100, 85, 115}, {10, 9, 11}, {50, 43, 57}, {1, 1, 1}} {
		lo, hi := ReplicaRange(c.base, 0.85, 1.15)
		if lo != c.lo || hi != c.hi {
			t.Errorf("ReplicaRange(%d) = [%d, %d], want [%d, %d]", c.base, lo, hi, c.lo, c.hi)
		}
	}
}

func TestBuiltinsDecodeValidateAndHaveTheirShapes(t *testing.T) {
	all, err := List()
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	want := []struct {
		name                   string
		nodes, ns, perNS, reps int
		duration               time.Duration
	}{
		{"smoke", 5, 5, 1, 10, time.Minute},
		{"1k-pods", 20, 20, 1, 50, 5 * time.Minute},
		{"10k-pods", 200, 100, 1, 100, 10 * time.Minute},
		{"50k-pods", 1000, 500, 1, 100, 10 * time.Minute},
	}
	if len(all) != len(want) {
		t.Fatalf("List returned %d profiles, want %d", len(all), len(want))
	}
	for i, w := range want {
		p := all[i]
		if p.Name != w.name {
			t.Fatalf("List()[%d] = %s, want %s", i, p.Name, w.name)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", p.Name, err)
		}
		if p.Nodes.Count != w.nodes || p.Workload.Namespaces != w.ns || p.Workload.DeploymentsPerNamespace != w.perNS ||
			p.Workload.Replicas != w.reps || p.Churn.Duration.Duration != w.duration {
			t.Errorf("%s has the wrong shape: %+v", p.Name, p)
		}
		if p.Churn.Scale.Interval.Duration != time.Second || p.Churn.Scale.MinFactor != 0.85 ||
			p.Churn.Scale.MaxFactor != 1.15 || p.Churn.Relabel.Interval.Duration != time.Minute {
			t.Errorf("%s does not churn like the public test: %+v", p.Name, p.Churn)
		}
		if p.Mesh.Name != MeshNone || p.Description == "" {
			t.Errorf("%s: mesh %q description %q", p.Name, p.Mesh.Name, p.Description)
		}
		var obs []string
		for _, o := range p.Observers {
			obs = append(obs, o.Name)
		}
		if !reflect.DeepEqual(obs, DefaultObserverNames()) {
			t.Errorf("%s observers = %v, want %v", p.Name, obs, DefaultObserverNames())
		}
	}
	if got := all[3].TargetPods(); got != 50000 {
		t.Errorf("50k-pods targets %d pods", got)
	}
}

func TestMarshalRoundTrips(t *testing.T) {
	for _, name := range Names() {
		p, err := Load(name)
		if err != nil {
			t.Fatalf("Load(%s): %v", name, err)
		}
		b, err := Marshal(p)
		if err != nil {
			t.Fatalf("Marshal(%s): %v", name, err)
		}
		back, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(Marshal(%s)): %v\n%s", name, err, b)
		}
		if !reflect.DeepEqual(back, p) {
			t.Errorf("%s does not round-trip:\n%s", name, b)
		}
	}
}

func TestMarshalKeepsSeedZero(t *testing.T) {
	p := Defaults()
	p.Name = "x"
	p.Churn.Seed = 0
	b, err := Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Churn.Seed != 0 {
		t.Errorf("seed 0 came back as %d (the default)", back.Churn.Seed)
	}
}

func TestLoadFileAndUnknownName(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mine.yaml")
	if err := os.WriteFile(path, []byte(header+"nodes:\n  count: 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(path)
	if err != nil {
		t.Fatalf("Load(file): %v", err)
	}
	if p.Name != "mine" || p.Nodes.Count != 7 || p.Workload.Replicas != Defaults().Workload.Replicas {
		t.Errorf("Load(file) = %+v", p)
	}
	_, err = Load("no-such-profile")
	if err == nil || !strings.Contains(err.Error(), "smoke") || !strings.Contains(err.Error(), "50k-pods") {
		t.Errorf("Load(unknown) = %v, want one listing the built-ins", err)
	}
}

func TestOverridesApplyOnlyWhatWasSet(t *testing.T) {
	base, err := Load("smoke")
	if err != nil {
		t.Fatal(err)
	}
	if got := (Overrides{}).Apply(base); !reflect.DeepEqual(got, base) {
		t.Errorf("empty overrides changed the profile")
	}
	d, n, s, m := 20*time.Second, 9, int64(42), MeshCilium
	got := Overrides{Duration: &d, Nodes: &n, Seed: &s, Mesh: &m}.Apply(base)
	if got.Churn.Duration.Duration != d || got.Nodes.Count != n || got.Churn.Seed != s || got.Mesh.Name != m {
		t.Errorf("overrides not applied: %+v", got)
	}
	if got.Workload != base.Workload {
		t.Errorf("overrides touched the workload")
	}
}

func TestResolveValidatesAfterOverrides(t *testing.T) {
	bad := "linkerd"
	_, err := Resolve("smoke", Overrides{Mesh: &bad}, nil)
	if err == nil || !strings.Contains(err.Error(), "mesh.name") {
		t.Errorf("Resolve with a bad --mesh = %v, want mesh.name error", err)
	}
	zero := 0
	_, err = Resolve("smoke", Overrides{Nodes: &zero}, nil)
	if err == nil || !strings.Contains(err.Error(), "nodes.count") {
		t.Errorf("Resolve with --nodes 0 = %v, want nodes.count error", err)
	}
	p, err := Resolve("smoke", Overrides{}, nil)
	if err != nil || p.Name != "smoke" {
		t.Errorf("Resolve(smoke) = %v, %v", p.Name, err)
	}
}

func TestRampTimeoutScalesWithSize(t *testing.T) {
	p := Defaults()
	if got := p.RampTimeout(); got != 5*time.Minute {
		t.Errorf("small workload: %v, want the 5m floor", got)
	}
	p.Workload.Namespaces, p.Workload.Replicas = 500, 100
	if got := p.RampTimeout(); got != 2*time.Minute+2000*time.Second {
		t.Errorf("50k pods: %v", got)
	}
	p.Workload.ReadyTimeout.Duration = time.Hour
	if got := p.RampTimeout(); got != time.Hour {
		t.Errorf("explicit: %v", got)
	}
}

// mesh.istiod: real runs with an istio mesh and is refused with any other,
// never silently ignored.
func TestRealIstiodNeedsAnIstioMesh(t *testing.T) {
	p := Defaults()
	p.Name = "real-istiod"
	p.Mesh.Name, p.Mesh.Istiod = MeshIstioAmbient, IstiodReal
	if err := p.Validate(); err != nil {
		t.Fatalf("istio-ambient with the real istiod: Validate() = %v", err)
	}
	for _, mesh := range []string{MeshNone, MeshCilium, MeshCiliumCES} {
		p.Mesh.Name = mesh
		err := p.Validate()
		if err == nil || !strings.Contains(err.Error(), "mesh.istiod") || !strings.Contains(err.Error(), mesh) {
			t.Errorf("mesh %s with the real istiod: Validate() = %v, want an error naming mesh.istiod and the mesh", mesh, err)
		}
	}
	p.Mesh.Name, p.Mesh.Istiod = MeshIstioAmbient, "fake"
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "mesh.istiod") {
		t.Errorf("istiod fake: Validate() = %v, want an error naming mesh.istiod", err)
	}
}

// mesh.cilium: real runs with a cilium mesh only; mesh.ciliumRealAgents
// applies with it, defaults to 5 and is capped at the nodes (a profile
// derived for part of a run may have fewer).
func TestRealCiliumValidation(t *testing.T) {
	p := Defaults()
	p.Name = "real-cilium"
	p.Nodes.Count = 3
	for _, mesh := range []string{MeshCilium, MeshCiliumCES} {
		p.Mesh.Name, p.Mesh.Cilium = mesh, CiliumReal
		if err := p.Validate(); err != nil {
			t.Fatalf("%s with real Cilium: Validate() = %v", mesh, err)
		}
	}
	if got := p.Mesh.RealCiliumAgents(p.Nodes.Count); got != 3 {
		t.Errorf("RealCiliumAgents(3 nodes) = %d, want 3 (the default 5, capped at the nodes)", got)
	}
	if got := p.Mesh.RealCiliumAgents(100); got != DefaultCiliumRealAgents {
		t.Errorf("RealCiliumAgents(100 nodes) = %d, want %d", got, DefaultCiliumRealAgents)
	}
	for name, tc := range map[string]struct {
		mesh, cilium string
		agents       int
		want         string
	}{
		"istio mesh":         {MeshIstioAmbient, CiliumReal, 0, "mesh.cilium"},
		"no mesh":            {MeshNone, CiliumReal, 0, "mesh.cilium"},
		"unknown mode":       {MeshCilium, "fake", 0, "mesh.cilium"},
		"agents if emulated": {MeshCilium, CiliumEmulated, 2, "mesh.ciliumRealAgents"},
		"negative agents":    {MeshCilium, CiliumReal, -1, "mesh.ciliumRealAgents"},
	} {
		t.Run(name, func(t *testing.T) {
			q := p
			q.Mesh.Name, q.Mesh.Cilium, q.Mesh.CiliumRealAgents = tc.mesh, tc.cilium, tc.agents
			if err := q.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	q := p
	q.Mesh.Name, q.Mesh.Cilium = MeshCilium, CiliumEmulated
	if got := q.Mesh.RealCiliumAgents(10); got != 0 {
		t.Errorf("emulated Cilium: RealCiliumAgents = %d, want 0", got)
	}
}

func TestControlPlaneExtraArgsDecodeYAMLAndJSON(t *testing.T) {
	want := map[string][]string{
		"kube-apiserver": {"--max-mutating-requests-inflight=20", "--feature-gates=A=true,B=false"},
		"etcd":           {"--snapshot-count=5000"},
	}
	for name, doc := range map[string]string{
		"yaml": header + "name: x\ncontrolPlane:\n  extraArgs:\n    kube-apiserver:\n      - --max-mutating-requests-inflight=20\n      - --feature-gates=A=true,B=false\n    etcd: [--snapshot-count=5000]\n",
		"json": `{"apiVersion": "churn.dev/v1alpha1", "kind": "Profile", "name": "x", "controlPlane": {"extraArgs": {"kube-apiserver": ["--max-mutating-requests-inflight=20", "--feature-gates=A=true,B=false"], "etcd": ["--snapshot-count=5000"]}}}`,
	} {
		p, err := Decode([]byte(doc))
		if err != nil {
			t.Fatalf("%s: Decode: %v", name, err)
		}
		if !reflect.DeepEqual(p.ControlPlane.ExtraArgs, want) {
			t.Errorf("%s: extraArgs = %v, want %v", name, p.ControlPlane.ExtraArgs, want)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("%s: Validate: %v", name, err)
		}
		b, err := Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decode(b)
		if err != nil || !reflect.DeepEqual(back.ControlPlane, p.ControlPlane) {
			t.Errorf("%s: round trip = %v, %v; want %v", name, back.ControlPlane, err, p.ControlPlane)
		}
	}
	// A profile without extra arguments marshals without them; its
	// section holds the CPU budget alone.
	b, err := Marshal(Defaults())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "extraArgs") || !strings.Contains(string(b), "controlPlane:\n  cpus: auto\n") {
		t.Errorf("default profile's controlPlane section is not the CPU budget alone:\n%s", b)
	}
	if _, err := Decode([]byte(header + "name: x\ncontrolPlane:\n  extraArg: {}\n")); err == nil || !strings.Contains(err.Error(), "controlPlane.extraArg") {
		t.Errorf("Decode of a misspelt controlPlane field = %v, want an error naming controlPlane.extraArg", err)
	}
}

func TestValidateControlPlaneExtraArgs(t *testing.T) {
	p := Defaults()
	p.Name = "x"
	p.ControlPlane.ExtraArgs = map[string][]string{
		"kube-apiserver": {"--max-requests-inflight=5", "max-requests-inflight=5", "--", "--=1"},
		"kubelet":        {"--v=2"},
	}
	err := p.Validate()
	if err == nil {
		t.Fatal("Validate accepted malformed extra arguments and an unknown component")
	}
	for _, want := range []string{
		"controlPlane.extraArgs[kube-apiserver][1]", "controlPlane.extraArgs[kube-apiserver][2]", "controlPlane.extraArgs[kube-apiserver][3]",
		`controlPlane.extraArgs[kubelet]: Unsupported value: "kubelet": supported values: "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "[kube-apiserver][0]") {
		t.Errorf("a well-formed argument was refused: %v", err)
	}
}

func TestOverridesMergeExtraArgs(t *testing.T) {
	p := Defaults()
	p.ControlPlane.ExtraArgs = map[string][]string{
		"kube-apiserver": {"--max-requests-inflight=100", "--profiling=false"},
		"etcd":           {"--snapshot-count=5000"},
	}
	profileArgs := p.ControlPlane.ExtraArgs["kube-apiserver"]
	got := Overrides{ExtraArgs: map[string][]string{
		"kube-apiserver":          {"--max-requests-inflight=1", "--max-mutating-requests-inflight=1"},
		"kube-controller-manager": {"--concurrent-statefulset-syncs=9"},
	}}.Apply(p)
	want := map[string][]string{
		"kube-apiserver":          {"--profiling=false", "--max-requests-inflight=1", "--max-mutating-requests-inflight=1"},
		"etcd":                    {"--snapshot-count=5000"},
		"kube-controller-manager": {"--concurrent-statefulset-syncs=9"},
	}
	if !reflect.DeepEqual(got.ControlPlane.ExtraArgs, want) {
		t.Errorf("merged extraArgs = %v, want %v", got.ControlPlane.ExtraArgs, want)
	}
	if profileArgs[0] != "--max-requests-inflight=100" {
		t.Errorf("Apply changed the profile's own arguments: %v", profileArgs)
	}
}

// "observers: []" runs without observers; shown and read back, it must not
// turn into the default list.
func TestMarshalKeepsAnEmptyObserverList(t *testing.T) {
	p, err := Decode([]byte(header + "name: x\nobservers: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Observers) != 0 {
		t.Errorf("observers came back as %v\n%s", back.Observers, b)
	}
}
