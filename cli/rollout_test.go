package cli

import (
	"reflect"
	"strings"
	"testing"
)

// Each --rollout of churn compare --profile is an arm running that
// rollout alone; one --rollout applies to every arm.
func TestCompareRolloutArms(t *testing.T) {
	specs, err := planArmsFor(t, "--profile", "smoke", "--mesh", "cilium",
		"--rollout", "cilium-agent@10s,maxUnavailable=2", "--rollout", "cilium-agent@10s,maxUnavailable=50%")
	if err != nil {
		t.Fatal(err)
	}
	var names, dirs []string
	var rollouts [][]string
	for _, s := range specs {
		names, dirs = append(names, s.name), append(dirs, s.dir)
		rollouts = append(rollouts, s.profile.Disruptions.Rollouts)
		if s.profile.Mesh.Name != "cilium" {
			t.Errorf("arm %s runs mesh %q", s.name, s.profile.Mesh.Name)
		}
	}
	if want := []string{"cilium-agent@10s,maxUnavailable=2", "cilium-agent@10s,maxUnavailable=50%"}; !reflect.DeepEqual(names, want) {
		t.Errorf("arms = %v, want %v", names, want)
	}
	if !reflect.DeepEqual(dirs, []string{"arm-1", "arm-2"}) {
		t.Errorf("dirs = %v", dirs)
	}
	if !reflect.DeepEqual(rollouts, [][]string{{"cilium-agent@10s,maxUnavailable=2"}, {"cilium-agent@10s,maxUnavailable=50%"}}) {
		t.Errorf("rollouts = %v", rollouts)
	}

	specs, err = planArmsFor(t, "--profile", "smoke", "--mesh", "none,cilium", "--rollout", "cilium-agent@10s")
	if err == nil || !strings.Contains(err.Error(), "mesh none runs no cilium-agent") {
		t.Errorf("one rollout on every mesh arm: %v, %d arms; want the none arm refused", err, len(specs))
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--mesh", "cilium", "--rollout", "cilium-agent@10s"}, "two rollouts"},
		{[]string{"--mesh", "cilium", "--rollout", "cilium-agent@10s,maxUnavailable=0", "--rollout", "cilium-agent@10s"}, `disruptions.rollouts[0]: Invalid value: "cilium-agent@10s,maxUnavailable=0"`},
		{[]string{"--mesh", "cilium", "--rollout", "cilium-agent@10s", "--rollout", "istiod@10s"}, "mesh cilium runs no istiod"},
		{[]string{"--mesh", "cilium", "--apiserver-args", "default", "--apiserver-args=--max-requests-inflight=5",
			"--rollout", "cilium-agent@10s", "--rollout", "cilium-agent@20s"}, "vary one thing per comparison"},
	} {
		if _, err := planArmsFor(t, append([]string{"--profile", "smoke"}, tc.args...)...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error naming %q", tc.args, err, tc.want)
		}
	}
}
