package local

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/churn-dev/churn/profiles"
)

func argsOf(t *testing.T, o Options) map[string][]string {
	t.Helper()
	o, err := o.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	args := map[string][]string{}
	for _, c := range buildComponents(o, paths{dir: o.Dir}, Ports{}, map[string]string{}) {
		args[c.name] = c.args
	}
	return args
}

func TestExtraArgsAppendedAfterChurnsOwn(t *testing.T) {
	base := argsOf(t, Options{Dir: t.TempDir()})
	extra := map[string][]string{
		APIServer: {"--max-mutating-requests-inflight=7", "--feature-gates=A=true,B=false"},
		Etcd:      {"--snapshot-count=5000"},
	}
	got := argsOf(t, Options{Dir: t.TempDir(), ExtraArgs: extra})
	for _, name := range startOrder {
		want := append(slices.Clone(base[name]), extra[name]...)
		// The directory differs between the two option sets.
		if len(got[name]) != len(want) || !slices.Equal(got[name][len(base[name]):], extra[name]) {
			t.Errorf("%s args end with %v, want churn's %d then %v", name, got[name][len(base[name]):], len(base[name]), extra[name])
		}
	}
}

// Every flag on churn's own command lines is refused, so a flag added to
// components.go is covered without touching extraargs.go.
func TestEveryOwnFlagIsRefused(t *testing.T) {
	o := Options{Dir: t.TempDir(), Audit: AuditOptions{LogPath: t.TempDir() + "/audit.log"}}
	for comp, args := range argsOf(t, o) {
		if comp == KWOK {
			continue
		}
		for _, a := range args {
			name, _, _ := strings.Cut(a, "=")
			for _, try := range []string{a, name, name + "=other"} {
				err := CheckExtraArg(comp, try)
				if err == nil || !strings.Contains(err.Error(), "churn sets "+name) {
					t.Errorf("CheckExtraArg(%s, %q) = %v, want it refused as set by churn", comp, try, err)
				}
			}
		}
	}
	for _, must := range []struct{ comp, flag string }{
		{APIServer, "--etcd-servers"}, {APIServer, "--secure-port"}, {APIServer, "--bind-address"},
		{APIServer, "--tls-cert-file"}, {APIServer, "--authorization-mode"}, {APIServer, "--service-cluster-ip-range"},
		{APIServer, "--audit-log-path"}, {ControllerManager, "--kubeconfig"}, {Etcd, "--data-dir"},
		{Scheduler, "--config"}, {Scheduler, "--kubeconfig"}, {Scheduler, "--kube-api-qps"},
	} {
		if err := CheckExtraArg(must.comp, must.flag+"=x"); err == nil {
			t.Errorf("CheckExtraArg(%s, %s=x) accepted a flag churn sets", must.comp, must.flag)
		}
	}
}

func TestCheckExtraArg(t *testing.T) {
	for _, tc := range []struct {
		comp, arg, wantErr string
	}{
		{APIServer, "--max-mutating-requests-inflight=7", ""},
		{APIServer, "--profiling", ""},
		{APIServer, "--feature-gates=A=true,B=false", ""},
		{ControllerManager, "--concurrent-statefulset-syncs=9", ""},
		{Etcd, "--snapshot-count=5000", ""},
		{Scheduler, "--v=2", ""},
		{APIServer, "max-requests-inflight=1", "not a flag"},
		{APIServer, "-v=4", "write --v=4"},
		{APIServer, "--", "not a flag name"},
		{APIServer, "--=1", "not a flag name"},
		{APIServer, "--a b=1", "not a flag name"},
		{APIServer, "--version", "print and exit"},
		{Etcd, "--help", "print and exit"},
		{APIServer, "--secure-port=6443", `churn sets --secure-port on kube-apiserver itself`},
		{Scheduler, "--leader-elect=true", "configuration file"},
		{KWOK, "--v=INFO", "unknown component"},
		{"kubelet", "--v=2", "known: etcd, kube-apiserver, kube-controller-manager, kube-scheduler"},
	} {
		err := CheckExtraArg(tc.comp, tc.arg)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("CheckExtraArg(%s, %q) = %v, want nil", tc.comp, tc.arg, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("CheckExtraArg(%s, %q) = %v, want an error containing %q", tc.comp, tc.arg, err, tc.wantErr)
		}
	}
}

func TestValidateExtraArgsPaths(t *testing.T) {
	errs := ValidateExtraArgs(map[string][]string{
		APIServer: {"--max-requests-inflight=5", "--etcd-servers=http://x"},
		"kwok":    {"--v=2"},
	}, field.NewPath("controlPlane", "extraArgs"))
	got := errs.ToAggregate().Error()
	for _, want := range []string{
		"controlPlane.extraArgs[kube-apiserver][1]", "--etcd-servers",
		`controlPlane.extraArgs[kwok]: Unsupported value: "kwok"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors %q do not contain %q", got, want)
		}
	}
	if len(errs) != 2 {
		t.Errorf("got %d errors, want 2: %v", len(errs), errs)
	}
}

// Up refuses bad extra arguments before it starts or writes anything.
func TestUpRefusesOwnedExtraArgs(t *testing.T) {
	_, err := Options{Dir: t.TempDir(), ExtraArgs: map[string][]string{APIServer: {"--secure-port=1"}}}.withDefaults()
	if err == nil || !strings.Contains(err.Error(), "ExtraArgs[kube-apiserver][0]") {
		t.Errorf("withDefaults = %v, want an error naming ExtraArgs[kube-apiserver][0]", err)
	}
}

func TestSplitArgs(t *testing.T) {
	for in, want := range map[string][]string{
		"":                                     nil,
		"  ":                                   nil,
		"--a=1":                                {"--a=1"},
		"--a=1,--b=2":                          {"--a=1", "--b=2"},
		"--a=1, --b":                           {"--a=1", "--b"},
		"--feature-gates=A=true,B=false,--c=3": {"--feature-gates=A=true,B=false", "--c=3"},
		"--list=x,y":                           {"--list=x,y"},
	} {
		if got := SplitArgs(in); !slices.Equal(got, want) {
			t.Errorf("SplitArgs(%q) = %q, want %q", in, got, want)
		}
	}
}

// The profile schema names the components this package accepts.
func TestComponentsMatchProfiles(t *testing.T) {
	if !slices.Equal(ExtraArgComponents, profiles.ControlPlaneComponents) {
		t.Errorf("local.ExtraArgComponents = %v, profiles.ControlPlaneComponents = %v", ExtraArgComponents, profiles.ControlPlaneComponents)
	}
}
