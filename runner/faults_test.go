package runner

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/churn-dev/churn/deploy/local"
)

func TestParseFault(t *testing.T) {
	for _, c := range []struct {
		spec string
		want Fault
	}{
		{"etcd-kill@3m", Fault{Spec: "etcd-kill@3m", Process: local.Etcd, At: 3 * time.Minute, Down: DefaultFaultDowntime}},
		{" kwok-kill@90s+30s ", Fault{Spec: "kwok-kill@90s+30s", Process: local.KWOK, At: 90 * time.Second, Down: 30 * time.Second}},
		{"apiserver-kill@0s+1s", Fault{Spec: "apiserver-kill@0s+1s", Process: local.APIServer, At: 0, Down: time.Second}},
		{"kube-scheduler-kill@1m", Fault{Spec: "kube-scheduler-kill@1m", Process: local.Scheduler, At: time.Minute, Down: DefaultFaultDowntime}},
	} {
		got, err := ParseFault(c.spec)
		if err != nil || got != c.want {
			t.Errorf("ParseFault(%q) = %+v, %v; want %+v", c.spec, got, err, c.want)
		}
	}
	for spec, wantErr := range map[string]string{
		"etcd-kill":         "want PROCESS-kill@AT",
		"etcd-stop@3m":      `unknown fault "etcd-stop"`,
		"coredns-kill@3m":   `unknown process "coredns"`,
		"etcd-kill@soon":    `time "soon"`,
		"etcd-kill@-1m":     `time "-1m"`,
		"etcd-kill@1m+0s":   `downtime "0s"`,
		"etcd-kill@1m+ever": `downtime "ever"`,
		"":                  "want PROCESS-kill@AT",
	} {
		if _, err := ParseFault(spec); err == nil || !strings.Contains(err.Error(), wantErr) || !strings.Contains(err.Error(), "--fault") {
			t.Errorf("ParseFault(%q) error = %v, want one naming --fault and containing %q", spec, err, wantErr)
		}
	}
}

func TestParseFaultsRefusesOneAfterChurn(t *testing.T) {
	if _, err := ParseFaults([]string{"etcd-kill@1m", "kwok-kill@5m"}, 5*time.Minute); err == nil || !strings.Contains(err.Error(), "kwok-kill@5m") {
		t.Errorf("a fault at the end of a 5m churn: err = %v, want it named", err)
	}
	got, err := ParseFaults([]string{"etcd-kill@1m", "kwok-kill@4m"}, 5*time.Minute)
	if err != nil || len(got) != 2 {
		t.Errorf("ParseFaults = %v, %v", got, err)
	}
}

func TestValidateTargetRefusesFaultsOnARemoteCluster(t *testing.T) {
	f, _ := ParseFault("etcd-kill@1m")
	err := ValidateTarget(Options{Kubeconfig: "k.yaml", Faults: []Fault{f}})
	if err == nil || !strings.Contains(err.Error(), "etcd-kill@1m") {
		t.Errorf("err = %v, want a refusal naming the fault", err)
	}
	if err := ValidateTarget(Options{Faults: []Fault{f}}); err != nil {
		t.Errorf("local run with a fault: %v", err)
	}
}

type fakeKiller struct {
	mu    sync.Mutex
	kills []string
	fail  error
}

func (k *fakeKiller) Kill(name string, restartAfter time.Duration, reason string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.kills = append(k.kills, name+" "+restartAfter.String()+" "+reason)
	return k.fail
}

func (k *fakeKiller) got() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.kills...)
}

func TestFaultInjectorFiresDueFaultsAndRecordsTheRest(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	early, _ := ParseFault("etcd-kill@1m+5s")
	late, _ := ParseFault("kwok-kill@10m")
	k := &fakeKiller{}
	fi := &faultInjector{faults: []Fault{early, late}, target: k, log: zap.NewNop(), clock: clk}
	fi.start(context.Background())
	for !clk.HasWaiters() {
		time.Sleep(time.Millisecond)
	}
	clk.Step(59 * time.Second)
	if n := len(k.got()); n != 0 {
		t.Fatalf("killed %d processes before the fault was due", n)
	}
	clk.Step(time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for len(k.got()) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := k.got(); len(got) != 1 || got[0] != "etcd 5s churn --fault etcd-kill@1m+5s" {
		t.Fatalf("kills = %v", got)
	}
	recs := fi.stopAndRecord()
	if len(recs) != 2 {
		t.Fatalf("records = %+v", recs)
	}
	if recs[0].InjectedAt.IsZero() || recs[0].Error != "" || recs[0].AtSeconds != 60 || recs[0].DownSeconds != 5 {
		t.Errorf("injected record = %+v", recs[0])
	}
	if !recs[1].InjectedAt.IsZero() || !strings.Contains(recs[1].Error, "not injected: the churn phase ended after 1m0s") {
		t.Errorf("pending record = %+v", recs[1])
	}
	if len(k.got()) != 1 {
		t.Error("a fault fired after the churn phase ended")
	}
}
