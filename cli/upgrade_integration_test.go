package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/churn-dev/churn/internal/testenv"
	"github.com/churn-dev/churn/results"
	"github.com/churn-dev/churn/version"
)

// churn run --apiservers 2 --upgrade: the two API servers, then the
// controller manager and the scheduler, are replaced by the newer release
// during churn, each step recorded with its milestones; every API server
// serves the new release afterwards (each step reads it from the server
// itself) and clients never lost the control plane through the load
// balancer.
func TestIntegrationRunRollingUpgrade(t *testing.T) {
	bin := testenv.RequireUpgrade(t)
	dir := t.TempDir()
	outDir := filepath.Join(dir, "out")
	upgrade := "kubernetes=" + version.Kubernetes + "@5s"
	code, out := runChurn(t, context.Background(), "run", "--profile", "smoke", "--bin-dir", bin, "--duration", "150s",
		"--dir", filepath.Join(dir, "cluster"), "--out", outDir,
		"--apiservers", "2", "--kubernetes-version", testenv.UpgradeFrom, "--upgrade", upgrade)
	if code != ExitOK && code != ExitSLOBreached {
		t.Fatalf("exit %d, want a completed run (0 or 2)", code)
	}
	r, err := results.Read(outDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Disruptions) != 1 {
		t.Fatalf("disruptions = %+v, want the upgrade", r.Disruptions)
	}
	d := r.Disruptions[0]
	if d.Kind != results.DisruptionUpgrade || d.Error != "" || d.Settings["from"] != testenv.UpgradeFrom || d.Settings["to"] != version.Kubernetes {
		t.Fatalf("upgrade = %+v", d)
	}
	var targets []string
	for _, s := range d.Steps {
		targets = append(targets, s.Targets...)
		if s.Error != "" || s.Stopped.IsZero() || s.Ready.IsZero() || s.Ready.Before(s.Stopped) {
			t.Errorf("step %s: %+v", s.Name, s)
		}
		if s.Impact == nil {
			t.Errorf("step %s: no impact measured", s.Name)
		}
	}
	if got := strings.Join(targets, ","); got != "kube-apiserver,kube-apiserver-2,kube-controller-manager,kube-scheduler" {
		t.Errorf("steps replaced %s, want both API servers, then the controllers", got)
	}
	// The first step's relists: the replaced server's clients came back.
	if im := d.Steps[0].Impact; im != nil && (len(im.Watches) == 0 || im.PeakPerSecond == 0) {
		t.Errorf("no watch re-established during the first API server's replacement: %+v", im)
	}
	if len(r.APIServers) != 2 {
		t.Fatalf("apiServers = %+v, want two", r.APIServers)
	}
	for _, s := range r.APIServers {
		if n := len(s.Versions); n == 0 || s.Versions[n-1] != version.Kubernetes {
			t.Errorf("%s served %v, want it to end on %s", s.Name, s.Versions, version.Kubernetes)
		}
	}
	if r.Availability == nil {
		t.Fatal("no availability summary")
	}
	for _, o := range r.Availability.Outages {
		t.Errorf("outage through the load balancer during a rolling upgrade of two API servers: %+v", o)
	}
	if !strings.Contains(out, "upgrade "+upgrade) {
		t.Errorf("the summary does not show the upgrade")
	}
}
