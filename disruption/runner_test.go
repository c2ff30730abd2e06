package disruption

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/churn-dev/churn/results"
)

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// waitForTimers blocks until n timers wait on the fake clock, so a Step
// does not race the goroutine that has yet to arm its timer.
func waitForTimers(t *testing.T, c *clocktesting.FakeClock) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !c.HasWaiters() {
		if time.Now().After(deadline) {
			t.Fatal("no timer armed on the fake clock")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRunnerRunsStepsInOrderAtTheirTime(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	var order []string
	step := func(name string, took time.Duration) Step {
		return Step{Name: name, Targets: []string{name}, From: "v1", To: "v2", Do: func(ctx context.Context, p *Progress) error {
			order = append(order, name)
			clk.Step(took / 2)
			p.Stopped()
			clk.Step(took / 2)
			p.Ready()
			return nil
		}}
	}
	r := &Runner{Clock: clk, Plans: []Plan{{Kind: results.DisruptionUpgrade, Spec: "kubernetes=v2@3m", At: 3 * time.Minute,
		Settings: map[string]string{"grace": "25s"},
		Steps:    []Step{step("a", 10*time.Second), step("b", 20*time.Second)}}}}
	r.Start(context.Background())
	waitForTimers(t, clk)
	clk.Step(3*time.Minute - time.Second)
	if len(order) != 0 {
		t.Fatalf("steps ran before the plan was due: %v", order)
	}
	clk.Step(time.Second)
	waitPlansDone(t, r)
	recs := r.StopAndRecord()
	if len(recs) != 1 {
		t.Fatalf("records = %d, want 1", len(recs))
	}
	d := recs[0]
	if d.Error != "" || len(d.Steps) != 2 {
		t.Fatalf("plan = %+v, want two steps and no error", d)
	}
	if strings.Join(order, ",") != "a,b" {
		t.Errorf("order = %v, want a,b", order)
	}
	a, b := d.Steps[0], d.Steps[1]
	if !a.Started.Equal(t0.Add(3*time.Minute)) || !a.Stopped.Equal(a.Started.Add(5*time.Second)) ||
		!a.Ready.Equal(a.Started.Add(10*time.Second)) || !a.Ended.Equal(a.Ready) {
		t.Errorf("step a times = %+v", a)
	}
	if !b.Started.Equal(a.Ended) || b.Ended.Sub(b.Started) != 20*time.Second {
		t.Errorf("step b = %+v, want to start when a ended and take 20s", b)
	}
	if a.From != "v1" || a.To != "v2" || d.Settings["grace"] != "25s" || d.AtSeconds != 180 {
		t.Errorf("record lost fields: %+v", d)
	}
	if !d.Started().Equal(a.Started) || !d.Ended().Equal(b.Ended) {
		t.Errorf("Started/Ended = %s/%s", d.Started(), d.Ended())
	}
}

// waitPlansDone waits until every plan has finished on its own, so that
// StopAndRecord does not cut one short.
func waitPlansDone(t *testing.T, r *Runner) {
	t.Helper()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("plans did not finish")
	}
}

func TestRunnerPlanNotDueIsRecordedAsNotStarted(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	ran := false
	r := &Runner{Clock: clk, Plans: []Plan{{Kind: results.DisruptionFault, Spec: "etcd-kill@9m", At: 9 * time.Minute,
		Steps: []Step{{Name: "kill etcd", Do: func(context.Context, *Progress) error { ran = true; return nil }}}}}}
	r.Start(context.Background())
	waitForTimers(t, clk)
	clk.Step(5 * time.Minute)
	d := r.StopAndRecord()[0]
	if ran || len(d.Steps) != 0 || !strings.Contains(d.Error, "not started: the churn phase ended after 5m0s") {
		t.Fatalf("plan = %+v (ran %v), want not started", d, ran)
	}
}

func TestRunnerFailedStepEndsThePlan(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	second := false
	r := &Runner{Clock: clk, Plans: []Plan{{Kind: results.DisruptionUpgrade, Spec: "u", Steps: []Step{
		{Name: "first", Do: func(context.Context, *Progress) error { return errors.New("binary missing") }},
		{Name: "second", Do: func(context.Context, *Progress) error { second = true; return nil }},
	}}}}
	r.Start(context.Background())
	waitPlansDone(t, r)
	d := r.StopAndRecord()[0]
	if second || len(d.Steps) != 1 || d.Steps[0].Error != "binary missing" ||
		d.Error != "step 1/2 (first) failed: binary missing" {
		t.Fatalf("plan = %+v, second ran %v", d, second)
	}
}

func TestRunnerStopCancelsTheStepUnderWay(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	inStep := make(chan struct{})
	r := &Runner{Clock: clk, Plans: []Plan{{Kind: results.DisruptionRollout, Spec: "cilium-agent@0s", Steps: []Step{
		{Name: "wave 1/2", Do: func(ctx context.Context, p *Progress) error {
			p.Stopped()
			close(inStep)
			<-ctx.Done()
			return ctx.Err()
		}},
		{Name: "wave 2/2", Do: func(context.Context, *Progress) error { return nil }},
	}}}}
	r.Start(context.Background())
	<-inStep
	clk.Step(42 * time.Second)
	d := r.StopAndRecord()[0]
	if len(d.Steps) != 1 || d.Steps[0].Stopped.IsZero() || !d.Steps[0].Ready.IsZero() ||
		d.Error != "stopped at step 1/2 (wave 1/2): the churn phase ended after 42s" {
		t.Fatalf("plan = %+v", d)
	}
}

func TestPlanValidate(t *testing.T) {
	ok := Step{Name: "s", Do: func(context.Context, *Progress) error { return nil }}
	for _, tc := range []struct {
		plan Plan
		want string
	}{
		{Plan{Kind: "fault", Spec: "x", At: time.Minute, Steps: []Step{ok}}, ""},
		{Plan{Kind: "fault", Spec: "x", At: 10 * time.Minute, Steps: []Step{ok}}, `fault "x": 10m0s is not within the churn phase (5m0s)`},
		{Plan{Kind: "upgrade", Spec: "y"}, `upgrade "y": no steps`},
		{Plan{Kind: "rollout", Spec: "z", Steps: []Step{{Name: "w"}}}, `rollout "z": step 1 (w) has nothing to do`},
	} {
		err := tc.plan.Validate(5 * time.Minute)
		if got := errString(err); got != tc.want {
			t.Errorf("Validate(%s) = %q, want %q", tc.plan.Spec, got, tc.want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestProgressRecordEditsTheStepsOwnRecord(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	r := &Runner{Clock: clk, Plans: []Plan{{Kind: results.DisruptionRollout, Spec: "r", Steps: []Step{
		{Name: "wave 1/1", Do: func(_ context.Context, p *Progress) error {
			p.Record(func(s *results.DisruptionStep) { s.Rollout = &results.RolloutWave{Agents: 3} })
			return nil
		}},
	}}}}
	r.Start(context.Background())
	waitPlansDone(t, r)
	d := r.StopAndRecord()[0]
	if d.Steps[0].Rollout == nil || d.Steps[0].Rollout.Agents != 3 {
		t.Errorf("step = %+v, want the wave it recorded", d.Steps[0])
	}
}
