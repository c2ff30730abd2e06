package nodehealth_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/fakenodes"
	"github.com/churn-dev/churn/fakenodes/nodehealth"
	"github.com/churn-dev/churn/internal/testenv"
)

// A kwok that stops renewing leases, here frozen with SIGSTOP as a starved
// one would be, shows as late leases on every fake node, while it is still
// frozen (the sweep) and with the whole gap once it renews again.
func TestIntegrationFrozenKWOKLeasesLate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := testenv.StartCluster(ctx, t, local.Options{})
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fakenodes.Create(ctx, cs, fakenodes.Spec{Count: 3, QPS: 100}, testenv.LogWriter(t)); err != nil {
		t.Fatal(err)
	}
	if err := fakenodes.WaitReady(ctx, cs, fakenodes.LabelSelector, 3, testenv.LogWriter(t)); err != nil {
		t.Fatal(err)
	}
	const lateAfter = 15 * time.Second
	m, err := nodehealth.Start(ctx, nodehealth.Config{Client: cs, Clock: clock.RealClock{},
		Logger: zaptest.NewLogger(t), NodeSelector: fakenodes.LabelSelector, LateAfter: lateAfter})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()

	// A healthy kwok renews every 10 s: two rounds without an incident.
	time.Sleep(22 * time.Second)
	if in := m.Incidents(); len(in) != 0 || m.Nodes() != 3 {
		t.Fatalf("healthy kwok: %d nodes, incidents %+v; want 3 nodes and none", m.Nodes(), in)
	}

	if err := c.Signal(local.KWOK, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			_ = c.Signal(local.KWOK, syscall.SIGCONT)
		}
	}()
	time.Sleep(30 * time.Second)
	open := 0
	for _, in := range m.Incidents() {
		if in.Kind == nodehealth.KindLeaseLate && !in.Ended {
			open++
		}
	}
	if open != 3 {
		t.Errorf("kwok frozen 30 s: %d open late leases, want 3: %+v", open, m.Incidents())
	}
	if err := c.Signal(local.KWOK, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed = true

	deadline := time.Now().Add(time.Minute)
	for {
		ended := map[string]float64{}
		for _, in := range m.Incidents() {
			if in.Kind == nodehealth.KindLeaseLate && in.Ended {
				ended[in.Node] = in.Seconds
			}
		}
		if len(ended) == 3 {
			for node, gap := range ended {
				if gap < 30 {
					t.Errorf("%s: renewal gap %.1f s, want at least the 30 s kwok was frozen", node, gap)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a minute after kwok resumed: late leases ended on %d nodes, want 3: %+v", len(ended), m.Incidents())
		}
		time.Sleep(time.Second)
	}
}
