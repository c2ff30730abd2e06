package churn

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/churn-dev/churn/results"
)

// runDriven runs the churn phase while stepping the fake clock one second
// at a time.
func runDriven(t *testing.T, env *testEnv) (*results.ChurnSummary, error) {
	t.Helper()
	done := make(chan struct{})
	go drive(env.clock, time.Second, done)
	defer close(done)
	return env.engine.Run(context.Background())
}

func TestRunLandsExactlyOnTheGrid(t *testing.T) {
	p := testProfile(5, 2, 10, 10*time.Minute)
	env := newTestEnv(t, p)
	setup(t, env)
	var hooked []results.Action
	env.engine.onAction = func(a results.Action) { hooked = append(hooked, a) }

	s, err := runDriven(t, env)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if s.Scale.Planned != 600 || s.Scale.Succeeded != 600 || s.Relabel.Planned != 10 || s.Relabel.Succeeded != 10 {
		t.Fatalf("scale %+v relabel %+v, want 600 and 10 planned and succeeded", s.Scale, s.Relabel)
	}
	if s.Planned != 610 || s.Succeeded != 610 || s.Failed != 0 || s.NotStarted != 0 {
		t.Errorf("summary counts %d/%d/%d/%d", s.Planned, s.Succeeded, s.Failed, s.NotStarted)
	}
	k := 0
	for _, a := range s.Actions {
		want := epoch.Add(time.Duration(k) * time.Second)
		if a.Kind == results.ActionRelabel {
			want = epoch.Add(time.Duration(a.To-1) * time.Minute)
		} else {
			k++
		}
		if !a.Scheduled.Equal(want) || !a.Start.Equal(a.Scheduled) || a.LagSeconds != 0 {
			t.Fatalf("action %d (%s) scheduled %v started %v lag %v, want both at %v",
				a.Seq, a.Kind, a.Scheduled.Sub(epoch), a.Start.Sub(epoch), a.LagSeconds, want.Sub(epoch))
		}
	}
	if s.LagP99Seconds != 0 || s.Duration != 10*time.Minute || s.ActionsPerSecond != 610.0/600 {
		t.Errorf("lag p99 %v, duration %v, actions/s %v", s.LagP99Seconds, s.Duration, s.ActionsPerSecond)
	}
	if len(hooked) != 610 {
		t.Errorf("OnAction saw %d actions, want 610", len(hooked))
	}

	changes := 0
	for _, a := range s.Actions {
		if a.Kind == results.ActionScale {
			changes += abs(a.To - a.From)
		}
	}
	if s.PodChanges != changes || s.PodChangesPerSecond != float64(changes)/600 {
		t.Errorf("pod changes %d (%v/s), want %d", s.PodChanges, s.PodChangesPerSecond, changes)
	}
}

// With one action at a time, each action reads the count the previous one
// on its deployment wrote, and the cluster ends where the plan left it.
func TestRunAppliesThePlan(t *testing.T) {
	p := testProfile(5, 2, 10, 2*time.Minute)
	p.Churn.MaxInFlight = 1
	env := newTestEnv(t, p)
	setup(t, env)
	s, err := runDriven(t, env)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	plan := env.engine.Plan()
	last := map[string]int{}
	changes := 0
	for i, a := range s.Actions {
		if st := plan.Steps[i]; a.Seq != st.Seq || a.Kind != st.Kind {
			t.Fatalf("action %d is %s, the plan says %s", i, a.Kind, st.Kind)
		}
		if a.Kind != results.ActionScale {
			continue
		}
		from, ok := last[a.Target]
		if !ok {
			from = 10
		}
		if a.From != from || a.To != plan.Steps[i].Replicas {
			t.Fatalf("action %d on %s went %d->%d, want %d->%d", a.Seq, a.Target, a.From, a.To, from, plan.Steps[i].Replicas)
		}
		changes += abs(a.To - from)
		last[a.Target] = a.To
	}
	if s.PodChanges != changes {
		t.Errorf("pod changes %d, want %d", s.PodChanges, changes)
	}
	for target, want := range last {
		ns, name, _ := strings.Cut(target, "/")
		d, err := env.client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if int(*d.Spec.Replicas) != want {
			t.Errorf("%s has %d replicas, the last action set %d", target, *d.Spec.Replicas, want)
		}
	}
	for _, a := range s.Actions {
		if a.Kind != results.ActionRelabel {
			continue
		}
		nsObj, err := env.client.CoreV1().Namespaces().Get(context.Background(), a.Target, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if nsObj.Labels[LabelRun] != testRunID || nsObj.Labels[LabelGeneration] == "0" {
			t.Errorf("namespace %s labels after relabel %d: %v", a.Target, a.To, nsObj.Labels)
		}
	}
}

func TestRunSlowActionIsLagNotDrift(t *testing.T) {
	p := testProfile(3, 1, 10, 20*time.Second)
	p.Churn.Relabel.Interval.Duration = 0
	p.Churn.MaxInFlight = 1
	env := newTestEnv(t, p)
	setup(t, env)

	// The fourth GET of a deployment (action 3) blocks until released.
	var gets atomic.Int32
	blocked, release := make(chan struct{}), make(chan struct{})
	env.client.PrependReactor("get", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		if gets.Add(1) == 4 {
			close(blocked)
			<-release
		}
		return false, nil, nil
	})

	var s *results.ChurnSummary
	var runErr error
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		s, runErr = env.engine.Run(context.Background())
	}()
	// Step to action 3, then hold it for five seconds of fake time.
	stepping := true
	for stepping {
		select {
		case <-blocked:
			stepping = false
		default:
			if env.clock.HasWaiters() {
				env.clock.Step(time.Second)
			} else {
				time.Sleep(50 * time.Microsecond)
			}
		}
	}
	env.clock.SetTime(epoch.Add(8 * time.Second))
	close(release)
	go drive(env.clock, time.Second, finished)
	<-finished
	if runErr != nil {
		t.Fatalf("Run: %v", runErr)
	}

	if len(s.Actions) != 20 || s.Succeeded != 20 {
		t.Fatalf("%d actions, %d succeeded; want 20 and 20 (none skipped)", len(s.Actions), s.Succeeded)
	}
	slow := s.Actions[3]
	if !slow.Start.Equal(epoch.Add(3*time.Second)) || slow.LatencySeconds != 5 {
		t.Errorf("slow action started %v latency %v", slow.Start.Sub(epoch), slow.LatencySeconds)
	}
	for k, a := range s.Actions {
		if want := epoch.Add(time.Duration(k) * time.Second); !a.Scheduled.Equal(want) {
			t.Errorf("action %d scheduled at %v: the grid drifted", k, a.Scheduled.Sub(epoch))
		}
		wantLag := 0.0
		if k >= 4 && k <= 7 {
			wantLag = float64(8 - k) // waited for the slot until 8s
		}
		if a.LagSeconds != wantLag {
			t.Errorf("action %d lag %vs, want %vs", k, a.LagSeconds, wantLag)
		}
		// All of it waited on the slot the slow action held: none is churn's.
		if a.OwnLagSeconds != 0 {
			t.Errorf("action %d own lag %vs, want 0: the lag was the slow API call's", k, a.OwnLagSeconds)
		}
	}
	if s.LagMaxSeconds != 4 || s.LagP50Seconds != 0 {
		t.Errorf("lag p50 %v max %v, want 0 and 4", s.LagP50Seconds, s.LagMaxSeconds)
	}
}

func TestRunRecordsFailuresByClass(t *testing.T) {
	p := testProfile(2, 1, 10, 10*time.Second)
	p.Churn.Relabel.Interval.Duration = 0
	env := newTestEnv(t, p)
	setup(t, env)
	var updates atomic.Int32
	env.client.PrependReactor("update", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		if updates.Add(1)%2 == 0 {
			return true, nil, errTooMany
		}
		return false, nil, nil
	})
	s, err := runDriven(t, env)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if s.Succeeded != 5 || s.Failed != 5 || s.Errors[results.ResultThrottled] != 5 {
		t.Errorf("succeeded %d failed %d errors %v, want 5, 5, {429: 5}", s.Succeeded, s.Failed, s.Errors)
	}
	for _, a := range s.Actions {
		if !a.OK() && (a.Result != results.ResultThrottled || a.Error == "") {
			t.Errorf("failed action %d recorded as %q %q", a.Seq, a.Result, a.Error)
		}
	}
}

func TestRunInterruptedRecordsTheRest(t *testing.T) {
	p := testProfile(2, 1, 10, time.Minute)
	p.Churn.Relabel.Interval.Duration = 0
	env := newTestEnv(t, p)
	setup(t, env)
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("ctrl-c")
	var once sync.Once
	env.engine.onAction = func(a results.Action) {
		if a.Seq == 9 {
			once.Do(func() { cancel(stop) })
		}
	}
	done := make(chan struct{})
	go drive(env.clock, time.Second, done)
	s, err := env.engine.Run(ctx)
	close(done)
	if !errors.Is(err, stop) {
		t.Fatalf("Run error = %v, want the cancel cause", err)
	}
	if s.Planned != 60 || s.Succeeded+s.Failed+s.NotStarted != 60 || s.Succeeded < 10 || s.NotStarted == 0 {
		t.Errorf("planned %d succeeded %d failed %d not started %d", s.Planned, s.Succeeded, s.Failed, s.NotStarted)
	}
	last := s.Actions[59]
	if last.Result != results.ResultNotStarted || !strings.Contains(last.Error, "interrupted") {
		t.Errorf("last action = %+v, want not-started because interrupted", last)
	}
}

func TestRunRefusesForeignDeployment(t *testing.T) {
	p := testProfile(1, 1, 10, 3*time.Second)
	p.Churn.Relabel.Interval.Duration = 0
	env := newTestEnv(t, p)
	// A deployment of the same name that is not ours.
	d := env.engine.w.deploymentObject(testPrefix+"-000", "app-0")
	d.Labels = map[string]string{"app": "app-0"}
	if _, err := env.client.AppsV1().Deployments(d.Namespace).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := runDriven(t, env)
	if err == nil || s.Succeeded != 0 {
		t.Fatalf("Run scaled a foreign deployment: err %v, %d succeeded", err, s.Succeeded)
	}
	got, _ := env.client.AppsV1().Deployments(d.Namespace).Get(context.Background(), "app-0", metav1.GetOptions{})
	if *got.Spec.Replicas != 10 {
		t.Errorf("foreign deployment scaled to %d", *got.Spec.Replicas)
	}
}

func TestSlotsFullOwnLag(t *testing.T) {
	at := func(s float64) time.Time { return epoch.Add(time.Duration(s * float64(time.Second))) }
	f := &slotsFull{max: 2}
	f.acquire(at(0))
	f.acquire(at(1)) // full from 1 s
	f.release(at(4)) // until 4 s
	// Due at 2 s, started at 5 s: 2 s of the lag were the full slots'.
	if got := f.ownLag(at(2), at(5)); got != time.Second {
		t.Errorf("own lag %v, want 1s", got)
	}
	// Due after the full span: all of its lag is churn's.
	if got := f.ownLag(at(4.5), at(5)); got != 500*time.Millisecond {
		t.Errorf("own lag %v, want 500ms", got)
	}
	// The span before 4.5 s is forgotten; a later full span counts.
	f.acquire(at(6)) // full again from 6 s
	f.release(at(9))
	if len(f.spans) != 1 {
		t.Fatalf("spans %v, want the 6-9 s span only", f.spans)
	}
	if got := f.ownLag(at(7), at(9.25)); got != 250*time.Millisecond {
		t.Errorf("own lag %v, want 250ms", got)
	}
}
