package cli

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
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
		{"--max-mutating-requests-inflight=1,--max-requests-inflight=2", "max-mutating-requests-inflight=1_max-requests-inflight=2",
			[]string{"--max-mutating-requests-inflight=1", "--max-requests-inflight=2"}},
		{"--admission-control-config-file=/etc/a.yaml", "admission-control-config-file=_etc_a.yaml", []string{"--admission-control-config-file=/etc/a.yaml"}},
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
	first := armSpec{dir: armDir("--a=x/y", nil)}
	if first.dir != "a=x_y" {
		t.Errorf("armDir(--a=x/y) = %q, want a=x_y", first.dir)
	}
	if got := armDir("--a=x_y", []armSpec{first}); got != "a=x_y-2" {
		t.Errorf("armDir of a colliding name = %q, want a=x_y-2", got)
	}
	if got := armDir("istio-ambient", nil); got != "istio-ambient" {
		t.Errorf("armDir(istio-ambient) = %q, want the name itself", got)
	}
}

func TestCompareDirsRefuseArgArms(t *testing.T) {
	code, _, _, err := runCompare(t, "a", "b", "--apiserver-args", "default")
	if code != ExitFailure || err == nil || !strings.Contains(err.Error(), "--apiserver-args makes arms: it needs --profile") {
		t.Fatalf("exit %d, err %v; want --apiserver-args refused without --profile", code, err)
	}
}
