package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/churn-dev/churn/disruption"
	"github.com/churn-dev/churn/profiles"
)

func TestValidateTargetRefusesDisruptionsOnARemoteCluster(t *testing.T) {
	// A bin/ with the default release's binaries only.
	bin := t.TempDir()
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		d    profiles.DisruptionsSpec
		cp   int
		want string
	}{
		{profiles.DisruptionsSpec{Faults: []string{"etcd-kill@1m"}}, 1, "--fault etcd-kill@1m"},
		{profiles.DisruptionsSpec{Upgrade: "kubernetes=v1.37.2@1m"}, 1, "--upgrade kubernetes=v1.37.2@1m"},
		{profiles.DisruptionsSpec{}, 2, "--apiservers 2"},
	} {
		o := Options{Kubeconfig: "k.yaml", BinDir: bin, KubernetesVersion: "v1.36.3"}
		o.Profile.Disruptions, o.Profile.ControlPlane.APIServers = c.d, c.cp
		if err := ValidateTarget(o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("err = %v, want a refusal naming %q", err, c.want)
		}
		o.Kubeconfig = ""
		if err := ValidateTarget(o); err != nil {
			t.Errorf("local run with %+v: %v", c.d, err)
		}
	}
}

func TestCheckUpgradeRefusesBeforeAnythingStarts(t *testing.T) {
	bin := t.TempDir()
	for _, c := range []struct {
		from, spec, want string
	}{
		{"v1.36.3", "kubernetes=v1.37.2@1m", "make controlplane"},
		{"", "kubernetes=v1.37.2@1m", "already runs v1.37.2"},
		{"v1.36.3", "kubernetes=v1.38.0@1m", "skips a minor release"},
		{"", "kubernetes=v1.36.3@1m", "downgrade"},
	} {
		o := Options{BinDir: bin, KubernetesVersion: c.from}
		o.Profile.Disruptions.Upgrade = c.spec
		if err := CheckUpgrade(o); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "--upgrade") {
			t.Errorf("CheckUpgrade(%s from %q) = %v, want %q", c.spec, c.from, err, c.want)
		}
	}
}

// fakeKiller stands in for the local cluster: Kill restarts the process
// with a new PID at once, WaitHealthy answers when the PID has changed.
type fakeKiller struct {
	mu      sync.Mutex
	pid     int
	kills   []string
	failErr error
}

func (k *fakeKiller) Kill(name string, restartAfter time.Duration, reason string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.kills = append(k.kills, name+" "+restartAfter.String()+" "+reason)
	if k.failErr != nil {
		return k.failErr
	}
	k.pid++
	return nil
}

func (k *fakeKiller) count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.kills)
}

func (k *fakeKiller) PID(string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.pid
}

func (k *fakeKiller) WaitHealthy(_ context.Context, name string, notPID int) error {
	if k.PID(name) == notPID {
		return errors.New("never restarted")
	}
	return nil
}

func TestFaultPlanKillsAndWaitsForTheRestart(t *testing.T) {
	f, err := profiles.ParseFault("etcd-kill@0s+5s")
	if err != nil {
		t.Fatal(err)
	}
	k := &fakeKiller{pid: 100}
	dr := &disruption.Runner{Plans: []disruption.Plan{faultPlan(f, k)}}
	dr.Start(context.Background())
	deadline := time.Now().Add(10 * time.Second)
	for k.count() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond)
	recs := dr.StopAndRecord()
	if len(recs) != 1 || recs[0].Kind != "fault" || recs[0].Error != "" || len(recs[0].Steps) != 1 {
		t.Fatalf("records = %+v", recs)
	}
	s := recs[0].Steps[0]
	if s.Stopped.IsZero() || s.Ready.IsZero() || s.Targets[0] != "etcd" || recs[0].Settings["downtime"] != "5s" {
		t.Errorf("step = %+v", s)
	}
	if got := k.kills; len(got) != 1 || got[0] != "etcd 5s churn --fault etcd-kill@0s+5s" {
		t.Errorf("kills = %v", got)
	}

	k = &fakeKiller{failErr: errors.New("no such process")}
	dr = &disruption.Runner{Plans: []disruption.Plan{faultPlan(f, k)}}
	dr.Start(context.Background())
	for k.count() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond)
	recs = dr.StopAndRecord()
	if !strings.Contains(recs[0].Error, "failed: no such process") || !recs[0].Steps[0].Stopped.IsZero() {
		t.Errorf("failed kill recorded as %+v", recs[0])
	}
}
