package version

import (
	"os"
	"regexp"
	"testing"
)

// The versions churn prints must be the ones deploy/controlplane builds.
func TestComponentsMatchPinnedModule(t *testing.T) {
	b, err := os.ReadFile("../deploy/controlplane/go.mod")
	if err != nil {
		t.Fatalf("read pinned module: %v", err)
	}
	for mod, want := range map[string]string{
		"k8s.io/kubernetes":         Kubernetes,
		"go.etcd.io/etcd/server/v3": Etcd,
		"sigs.k8s.io/kwok":          KWOK,
	} {
		re := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(mod) + `\s+(v\S+)`)
		m := re.FindSubmatch(b)
		if m == nil {
			t.Errorf("%s not required in deploy/controlplane/go.mod", mod)
			continue
		}
		if got := string(m[1]); got != want {
			t.Errorf("%s: go.mod pins %s, version.go says %s", mod, got, want)
		}
	}
}
