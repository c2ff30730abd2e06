package churn

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/churn-dev/churn/results"
)

// setReady sets the Ready replicas of one deployment, as its controller
// would.
func setReady(t *testing.T, env *testEnv, namespace, name string, ready int32) {
	t.Helper()
	gvr := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	obj, err := env.client.Tracker().Get(gvr, namespace, name)
	if err != nil {
		t.Errorf("get %s/%s: %v", namespace, name, err)
		return
	}
	d := obj.(*appsv1.Deployment).DeepCopy()
	d.Status.ReadyReplicas = ready
	if err := env.client.Tracker().Update(gvr, d, namespace); err != nil {
		t.Errorf("update %s/%s: %v", namespace, name, err)
	}
}

// rampDriven runs WaitReady; before every poll interval passes, tick(n) may
// change the cluster (n counts the polls so far).
func rampDriven(t *testing.T, env *testEnv, tick func(n int)) (*results.SetupSummary, error) {
	t.Helper()
	type out struct {
		s   *results.SetupSummary
		err error
	}
	done := make(chan out, 1)
	go func() {
		s, err := env.engine.WaitReady(context.Background())
		done <- out{s, err}
	}()
	for n := 0; ; {
		select {
		case o := <-done:
			return o.s, o.err
		default:
		}
		if env.clock.HasWaiters() {
			n++
			tick(n)
			env.clock.Step(rampPoll)
			continue
		}
		time.Sleep(50 * time.Microsecond)
	}
}

func TestWaitReadyReportsProgressAndSummary(t *testing.T) {
	env := newTestEnv(t, testProfile(10, 1, 10, time.Minute))
	setup(t, env)
	// One more deployment becomes Ready at each 2 s poll.
	s, err := rampDriven(t, env, func(n int) {
		if n <= 10 {
			setReady(t, env, env.engine.w.namespace(n-1), "app-0", 10)
		}
	})
	if err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	out := env.progress.String()
	want := "ready 0/100 pods (measuring rate)\nready 50/100 pods (5 pods/s, ETA 10s)\nready 100/100 pods after 20s (5 pods/s)\n"
	if !strings.HasSuffix(out, want) {
		t.Errorf("progress:\n%s\nwant it to end with a line every 10 s:\n%s", out, want)
	}
	if s.TargetPods != 100 || s.ReadyPods != 100 || s.RampSeconds != 20 || s.PodsPerSec != 5 ||
		s.Deployments != 10 || s.Namespaces != 10 || s.Services != 10 {
		t.Errorf("summary %+v", s)
	}
}

func TestWaitReadyTimeoutNamesWhatIsMissing(t *testing.T) {
	p := testProfile(3, 1, 10, time.Minute)
	p.Workload.ReadyTimeout = metav1.Duration{Duration: 10 * time.Second}
	env := newTestEnv(t, p)
	setup(t, env)
	setReady(t, env, testPrefix+"-000", "app-0", 10)
	setReady(t, env, testPrefix+"-001", "app-0", 2)
	// The third deployment vanishes: it must be named as not found.
	if err := env.client.AppsV1().Deployments(testPrefix+"-002").Delete(context.Background(), "app-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := rampDriven(t, env, func(int) {})
	if err == nil {
		t.Fatal("WaitReady did not time out")
	}
	for _, want := range []string{"timed out after 10s", "12/30 pods Ready", "1 of 3 deployments not Ready (churn-test-001/app-0 2/10)",
		"1 of 3 deployments not found (churn-test-002/app-0)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if s == nil || s.ReadyPods != 12 || s.RampSeconds != 10 {
		t.Errorf("summary on timeout %+v", s)
	}
}
