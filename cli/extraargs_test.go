package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/churn-dev/churn/report"
)

func TestExtraArgsFlagsParse(t *testing.T) {
	e := extraArgsFlags{
		apiServer:  "--max-mutating-requests-inflight=1, --feature-gates=A=true,B=false",
		components: []string{"kube-controller-manager=--concurrent-statefulset-syncs=9", "kube-apiserver=--max-requests-inflight=2"},
	}
	got, err := e.parse()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"kube-apiserver":          {"--max-mutating-requests-inflight=1", "--feature-gates=A=true,B=false", "--max-requests-inflight=2"},
		"kube-controller-manager": {"--concurrent-statefulset-syncs=9"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parse = %v, want %v", got, want)
	}
	if got, err := (&extraArgsFlags{}).parse(); got != nil || err != nil {
		t.Errorf("parse without flags = %v, %v; want nil, nil", got, err)
	}
	for _, tc := range []struct {
		e    extraArgsFlags
		want string
	}{
		{extraArgsFlags{apiServer: "--secure-port=1"}, `--apiserver-args: "--secure-port=1": churn sets --secure-port on kube-apiserver itself`},
		{extraArgsFlags{apiServer: "max-requests-inflight=1"}, "--apiserver-args: \"max-requests-inflight=1\" is not a flag"},
		{extraArgsFlags{components: []string{"kwok=--v=2"}}, `--component-args kwok=--v=2: unknown component "kwok"`},
		{extraArgsFlags{components: []string{"kube-scheduler"}}, "want COMPONENT=ARGS"},
		{extraArgsFlags{components: []string{"etcd=--data-dir=/x"}}, "churn sets --data-dir on etcd itself"},
	} {
		if _, err := tc.e.parse(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parse(%+v) = %v, want an error containing %q", tc.e, err, tc.want)
		}
	}
}

// Extra arguments apply to the local control plane only; with a remote
// target churn run refuses them before it connects to anything.
func TestRunRefusesExtraArgsForRemoteTarget(t *testing.T) {
	cmd := newRunCommand(zap.NewNop())
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs([]string{"--profile", "smoke", "--kubeconfig", "/nonexistent/kubeconfig", "--apiserver-args=--max-requests-inflight=5"})
	err := cmd.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), "apply to the local control plane") || !strings.Contains(err.Error(), "--kubeconfig /nonexistent/kubeconfig") {
		t.Fatalf("churn run = %v, want extra arguments refused for a --kubeconfig target", err)
	}
}

func planArmsFor(t *testing.T, args ...string) ([]armSpec, error) {
	t.Helper()
	cmd := &cobra.Command{}
	var a armsFlags
	registerArmsFlags(cmd, &a)
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	specs, _, err := a.planArms(cmd)
	return specs, err
}

func TestCompareArgArms(t *testing.T) {
	specs, err := planArmsFor(t, "--profile", "smoke",
		"--apiserver-args", "default",
		"--apiserver-args=--max-mutating-requests-inflight=1,--max-requests-inflight=2",
		"--apiserver-args=--admission-control-config-file=/etc/a.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type arm struct {
		name, dir string
		args      []string
	}
	var got []arm
	for _, s := range specs {
		got = append(got, arm{s.name, s.dir, s.profile.ControlPlane.ExtraArgs["kube-apiserver"]})
	}
	want := []arm{
		{"default", "default", nil},
		{"--max-mutating-requests-inflight=1,--max-requests-inflight=2", "arm-2",
			[]string{"--max-mutating-requests-inflight=1", "--max-requests-inflight=2"}},
		{"--admission-control-config-file=/etc/a.yaml", "arm-3", []string{"--admission-control-config-file=/etc/a.yaml"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("arms = %+v\nwant %+v", got, want)
	}
	for _, s := range specs {
		if s.profile.Churn.Seed != specs[0].profile.Churn.Seed || s.profile.Name != "smoke" {
			t.Errorf("arm %s runs profile %s seed %d, want smoke with one seed", s.name, s.profile.Name, s.profile.Churn.Seed)
		}
	}
}

func TestCompareArgArmsRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"owned flag", []string{"--apiserver-args", "default", "--apiserver-args=--etcd-servers=http://x"}, "churn sets --etcd-servers on kube-apiserver itself"},
		{"malformed", []string{"--apiserver-args", "default", "--apiserver-args", "max-requests-inflight=1"}, "is not a flag"},
		{"one arm", []string{"--apiserver-args=--max-requests-inflight=1"}, "is one arm"},
		{"two axes", []string{"--mesh", "none,cilium", "--apiserver-args", "default", "--apiserver-args=--max-requests-inflight=1"}, "vary one thing per comparison"},
		{"same arm twice", []string{"--apiserver-args", "default", "--apiserver-args", ""}, `arm "default" given twice`},
	} {
		_, err := planArmsFor(t, append([]string{"--profile", "smoke"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestArmDirUnique(t *testing.T) {
	// Arguments become arm-N: no leading dashes, '=', ',' or '/' in a
	// file name (comparison---max-requests-inflight=400.md was one).
	first := armSpec{dir: armDir("default", nil)}
	if first.dir != "default" {
		t.Errorf("armDir(default) = %q, want the name itself", first.dir)
	}
	second := armSpec{dir: armDir("--max-requests-inflight=400", []armSpec{first})}
	if second.dir != "arm-2" {
		t.Errorf("armDir(--max-requests-inflight=400) = %q, want arm-2", second.dir)
	}
	if got := armDir("arm-2", []armSpec{first, second}); got != "arm-2-2" {
		t.Errorf("armDir of a colliding name = %q, want arm-2-2", got)
	}
	for _, name := range []string{"istio-ambient", "v1.37.2", "none"} {
		if got := armDir(name, nil); got != name {
			t.Errorf("armDir(%s) = %q, want the name itself", name, got)
		}
	}
	for _, name := range []string{"--a=x/y", "-x", ".hidden", "a b", "a,b", "x=1", strings.Repeat("a", 65)} {
		if got := armDir(name, nil); got != "arm-1" {
			t.Errorf("armDir(%q) = %q, want arm-1", name, got)
		}
	}
}

func TestCompareDirsRefuseArgArms(t *testing.T) {
	code, _, _, err := runCompare(t, "a", "b", "--apiserver-args", "default")
	if code != ExitFailure || err == nil || !strings.Contains(err.Error(), "--apiserver-args makes arms: it needs --profile") {
		t.Fatalf("exit %d, err %v; want --apiserver-args refused without --profile", code, err)
	}
}

func TestComparisonFilesOfArgArmNamedSafely(t *testing.T) {
	dir := t.TempDir()
	args := "--max-requests-inflight=400"
	c := report.Comparison{Base: report.RunInfo{RunID: "b"}, Candidate: report.RunInfo{RunID: "c", ExtraArgs: "kube-apiserver " + args}}
	if err := writeComparisonFiles(dir, armDir(args, []armSpec{{name: "default", dir: "default"}}), c); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !reflect.DeepEqual(names, []string{"comparison-arm-2.json", "comparison-arm-2.md"}) {
		t.Fatalf("files %v, want comparison-arm-2.json and .md", names)
	}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), args) {
			t.Errorf("%s does not hold the arm's arguments %s", n, args)
		}
	}
}
