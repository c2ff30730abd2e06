package cli

import (
	"strings"
	"testing"
)

// Bad arm flags are refused before any control plane starts, naming what
// is wrong.
func TestCompareArmsRefusesBadFlags(t *testing.T) {
	bin := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"one arm", []string{"--profile", "smoke", "--mesh", "cilium"}, "at least two meshes"},
		{"two axes", []string{"--profile", "smoke", "--mesh", "none,cilium", "--kubernetes-version", "v1.36.3,v1.37.2"}, "vary one of them"},
		{"same arm twice", []string{"--profile", "smoke", "--mesh", "cilium,cilium"}, `arm "cilium" given twice`},
		{"unknown mesh", []string{"--profile", "smoke", "--mesh", "none,linkerd"}, "linkerd"},
		{"unbuilt release", []string{"--profile", "smoke", "--bin-dir", bin, "--kubernetes-version", "v1.35.4,v1.37.2"}, "make controlplane K8S_VERSION=v1.35.4"},
		{"dirs and profile", []string{"--profile", "smoke", "--mesh", "none,cilium", "a", "b"}, "takes no run directories"},
		{"unknown profile", []string{"--profile", "nope", "--mesh", "none,cilium"}, "--profile nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, _, err := runCompare(t, tc.args...)
			if code != ExitFailure || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("exit %d, err %v; want exit 1 naming %q", code, err, tc.want)
			}
		})
	}
}
