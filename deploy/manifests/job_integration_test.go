package manifests_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"

	"github.com/churn-dev/churn/deploy/manifests"
	"github.com/churn-dev/churn/deploy/manifests/manifeststest"
	"github.com/churn-dev/churn/internal/testenv"
	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
	"github.com/churn-dev/churn/runner"
)

// applyKinds applies, for real, the objects of dir whose kind is in kinds.
func applyKinds(ctx context.Context, t *testing.T, a *manifests.Applier, dir string, kinds ...string) {
	t.Helper()
	for _, o := range load(t, dir) {
		for _, k := range kinds {
			if o.GetKind() == k {
				if _, err := a.Apply(ctx, o, manifests.ApplyOptions{FieldManager: testFieldManager}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// jobProfile is the profile of the Job's ConfigMap, shortened.
func jobProfile(t *testing.T, mesh string) profiles.Profile {
	t.Helper()
	var cm corev1.ConfigMap
	find(t, load(t, jobDir), "ConfigMap", "churn-profile", &cm)
	path := filepath.Join(t.TempDir(), "profile.yaml")
	if err := os.WriteFile(path, []byte(cm.Data["profile.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	d, nodes := 5*time.Second, 2
	p, err := profiles.Resolve(path, profiles.Overrides{Duration: &d, Nodes: &nodes, Mesh: &mesh}, observers.Known)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The Job's service account, with the ClusterRoles of deploy/job (and of
// deploy/job/mesh for a mesh), can do a whole run: the preflight passes,
// setup, churn, the observers, the mesh emulation and teardown meet no
// "forbidden". The kwok of the local control plane plays the part of the
// one deploy/kwok installs (--kwok external).
func TestIntegrationJobServiceAccountCanRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	c := startCluster(ctx, t)
	a, err := manifests.NewApplier(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	applyKinds(ctx, t, a, jobDir, "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding")
	sa, err := manifeststest.ServiceAccountConfig(ctx, c.RESTConfig(), jobNS, jobSA)
	if err != nil {
		t.Fatal(err)
	}
	// Through a proxy that records what the API server refuses: the
	// observers and the emulated components count failed calls without
	// saying why.
	proxy, err := manifeststest.NewDenialProxy(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	kubeconfig := filepath.Join(t.TempDir(), "churn-sa.kubeconfig")
	if err := manifeststest.WriteKubeconfig(kubeconfig, proxy.Config(sa.BearerToken)); err != nil {
		t.Fatal(err)
	}

	run := func(t *testing.T, mesh string) *results.Result {
		t.Helper()
		deniedBefore := len(proxy.Denials())
		outcome, err := runner.Run(ctx, runner.Options{
			Profile:    jobProfile(t, mesh),
			Kubeconfig: kubeconfig,
			KWOK:       runner.KWOKExternal,
			OutDir:     t.TempDir(),
			Logger:     zaptest.NewLogger(t),
			Progress:   testenv.LogWriter(t),
		})
		if err != nil {
			t.Fatalf("run as the Job's service account: %v", err)
		}
		res := outcome.Result
		if len(res.Errors) > 0 {
			t.Errorf("run errors: %v", res.Errors)
		}
		b, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		if i := strings.Index(strings.ToLower(string(b)), "forbidden"); i >= 0 {
			t.Errorf("the result records a forbidden request: ...%s...", string(b[max(0, i-200):min(len(b), i+200)]))
		}
		if res.Churn == nil || res.Churn.Errors["other"] > 0 {
			t.Errorf("churn actions failed: %+v", res.Churn)
		}
		for _, d := range proxy.Denials()[deniedBefore:] {
			t.Errorf("refused: %s", d)
		}
		return res
	}

	t.Run("no mesh", func(t *testing.T) { run(t, profiles.MeshNone) })

	// Without deploy/job/mesh a mesh run is refused before it creates
	// anything, naming what is missing.
	t.Run("mesh refused without the mesh role", func(t *testing.T) {
		_, err := runner.Run(ctx, runner.Options{
			Profile: jobProfile(t, "cilium"), Kubeconfig: kubeconfig, OutDir: t.TempDir(),
			Logger: zaptest.NewLogger(t), Progress: testenv.LogWriter(t),
		})
		if err == nil || !strings.Contains(err.Error(), "impersonate serviceaccounts") {
			t.Fatalf("mesh run without deploy/job/mesh: %v, want the missing impersonation named", err)
		}
	})

	applyKinds(ctx, t, a, jobMeshDir, "ClusterRole", "ClusterRoleBinding")
	for _, mesh := range []string{"cilium-ces", "istio-ambient"} {
		t.Run(mesh, func(t *testing.T) {
			res := run(t, mesh)
			if res.MeshStats == nil || len(res.MeshStats.Components) == 0 {
				t.Fatalf("no mesh components ran: %+v", res.MeshStats)
			}
			for _, comp := range res.MeshStats.Components {
				if comp.Errors > 0 || comp.Lists == 0 {
					t.Errorf("%s: %d errors, %d lists", comp.Name, comp.Errors, comp.Lists)
				}
			}
		})
	}
}
