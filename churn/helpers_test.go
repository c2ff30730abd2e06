package churn

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/churn-dev/churn/internal/testenv"
	"github.com/churn-dev/churn/profiles"
)

const (
	testRunID  = "test-run"
	testPrefix = "churn-test"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// testProfile is a small valid profile; tests change what they exercise.
func testProfile(namespaces, perNS, replicas int, duration time.Duration) profiles.Profile {
	p := profiles.Defaults()
	p.Name = "test"
	p.Workload.Namespaces = namespaces
	p.Workload.DeploymentsPerNamespace = perNS
	p.Workload.Replicas = replicas
	p.Workload.CreateQPS = 100000 // the real-time limiter must not slow tests
	p.Churn.Duration.Duration = duration
	return p
}

type testEnv struct {
	client   *fake.Clientset
	clock    *clocktesting.FakeClock
	engine   *Engine
	progress *testenv.SyncBuffer
}

func newTestEnv(t *testing.T, p profiles.Profile) *testEnv {
	t.Helper()
	// NewSimpleClientset, not NewClientset: the field-managed tracker of the
	// latter rebuilds a REST mapper on every write (about 4 ms), which turns
	// a 600-action test into seconds. Field management is not under test.
	client := fake.NewSimpleClientset() //nolint:staticcheck // see above
	addScaleReactor(client)
	env := &testEnv{client: client, clock: clocktesting.NewFakeClock(epoch), progress: &testenv.SyncBuffer{}}
	eng, err := New(Config{
		Client:   client,
		Clock:    env.clock,
		Logger:   zaptest.NewLogger(t),
		Profile:  p,
		RunID:    testRunID,
		Prefix:   testPrefix,
		Progress: env.progress,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	env.engine = eng
	return env
}

// addScaleReactor makes the fake clientset apply updates of the scale
// subresource to the deployment, as the API server does; the stock fake
// would store the Scale object in place of the Deployment.
func addScaleReactor(client *fake.Clientset) {
	gvr := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	client.PrependReactor("update", "deployments", func(action k8stesting.Action) (bool, runtime.Object, error) {
		u := action.(k8stesting.UpdateAction)
		if u.GetSubresource() != "scale" {
			return false, nil, nil
		}
		scale := u.GetObject().(*autoscalingv1.Scale)
		obj, err := client.Tracker().Get(gvr, u.GetNamespace(), scale.Name)
		if err != nil {
			return true, nil, err
		}
		d := obj.(*appsv1.Deployment).DeepCopy()
		d.Spec.Replicas = &scale.Spec.Replicas
		if err := client.Tracker().Update(gvr, d, u.GetNamespace()); err != nil {
			return true, nil, err
		}
		return true, scale, nil
	})
}

// drive steps the fake clock by step each time something waits on it,
// until done is closed. Waiting for a waiter before stepping makes every
// step land after the engine has armed its timer, so the test needs no
// timing assumptions.
func drive(clk *clocktesting.FakeClock, step time.Duration, done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		default:
		}
		if clk.HasWaiters() {
			clk.Step(step)
			continue
		}
		time.Sleep(50 * time.Microsecond)
	}
}

func setup(t *testing.T, env *testEnv) {
	t.Helper()
	if err := env.engine.Setup(context.Background()); err != nil {
		t.Fatalf("Setup: %v", err)
	}
}
