package runner

import (
	"strings"
	"testing"

	"github.com/churn-dev/churn/profiles"
)

func TestValidateControlPlaneArgs(t *testing.T) {
	withArgs := func(args map[string][]string) profiles.Profile {
		p := profiles.Defaults()
		p.Name = "x"
		p.ControlPlane.ExtraArgs = args
		return p
	}
	ok := map[string][]string{"kube-apiserver": {"--max-requests-inflight=5"}}
	for _, tc := range []struct {
		name    string
		o       Options
		wantErr string
	}{
		{"none, remote", Options{Profile: withArgs(nil), Kubeconfig: "k.yaml"}, ""},
		{"local", Options{Profile: withArgs(ok)}, ""},
		{"kubeconfig", Options{Profile: withArgs(ok), Kubeconfig: "k.yaml"}, "--kubeconfig k.yaml runs with the flags its owner gave it"},
		{"in-cluster", Options{Profile: withArgs(ok), InCluster: true}, "--in-cluster runs with the flags"},
		{"owned", Options{Profile: withArgs(map[string][]string{"etcd": {"--data-dir=/tmp/x"}})}, "controlPlane.extraArgs[etcd][0]"},
	} {
		err := ValidateControlPlaneArgs(tc.o)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v, want nil", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.wantErr)
		}
	}
	// ValidateTarget, which churn run and every run call first, applies it.
	if err := ValidateTarget(Options{Profile: withArgs(ok), Kubeconfig: "k.yaml"}); err == nil {
		t.Error("ValidateTarget accepted extra arguments with a --kubeconfig target")
	}
}
