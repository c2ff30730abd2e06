package churn

import (
	"reflect"
	"testing"
	"time"

	"github.com/churn-dev/churn/results"
)

func TestPlanSameSeedSameSequence(t *testing.T) {
	p := testProfile(500, 1, 100, 10*time.Minute)
	a, b := NewPlan(42, p), NewPlan(42, p)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave two different plans")
	}
	c := NewPlan(43, p)
	same := 0
	for i := range a.Steps {
		if a.Steps[i] == c.Steps[i] {
			same++
		}
	}
	if same > len(a.Steps)/10 {
		t.Errorf("seeds 42 and 43 share %d of %d steps", same, len(a.Steps))
	}
}

func TestPlanShapeMatchesProfile(t *testing.T) {
	p := testProfile(500, 1, 100, 10*time.Minute)
	plan := NewPlan(7, p)
	var scales, relabels int
	var prev time.Duration
	hitLo, hitHi := false, false
	seen := map[int]bool{}
	for i, st := range plan.Steps {
		if st.Seq != i {
			t.Fatalf("step %d has Seq %d", i, st.Seq)
		}
		if st.Offset < prev {
			t.Fatalf("step %d at %v is before step %d at %v", i, st.Offset, i-1, prev)
		}
		prev = st.Offset
		switch st.Kind {
		case results.ActionScale:
			if st.Offset != time.Duration(scales)*time.Second {
				t.Errorf("scale %d at %v, want %ds", scales, st.Offset, scales)
			}
			scales++
			if st.Replicas < 85 || st.Replicas > 115 {
				t.Errorf("step %d scales to %d, outside [85, 115]", i, st.Replicas)
			}
			hitLo = hitLo || st.Replicas == 85
			hitHi = hitHi || st.Replicas == 115
			seen[st.Namespace] = true
		case results.ActionRelabel:
			if st.Offset != time.Duration(relabels)*time.Minute || st.Generation != relabels+1 {
				t.Errorf("relabel %d at %v generation %d", relabels, st.Offset, st.Generation)
			}
			relabels++
		}
		if st.Namespace < 0 || st.Namespace >= 500 || st.Deployment != 0 {
			t.Errorf("step %d targets slot %d/%d", i, st.Namespace, st.Deployment)
		}
	}
	if scales != 600 || relabels != 10 {
		t.Errorf("%d scales and %d relabels, want 600 and 10", scales, relabels)
	}
	if !hitLo || !hitHi {
		t.Errorf("600 draws never reached an end of [85, 115] (lo %v, hi %v)", hitLo, hitHi)
	}
	if len(seen) < 300 {
		t.Errorf("600 uniform draws over 500 deployments hit only %d", len(seen))
	}
}

func TestPlanStreamsAreIndependent(t *testing.T) {
	p := testProfile(50, 2, 10, 5*time.Minute)
	with := NewPlan(1, p)
	p.Churn.Relabel.Interval.Duration = 0
	without := NewPlan(1, p)
	var scalesWith []Step
	for _, st := range with.Steps {
		if st.Kind == results.ActionScale {
			st.Seq = 0
			scalesWith = append(scalesWith, st)
		}
	}
	for i := range without.Steps {
		without.Steps[i].Seq = 0
	}
	if !reflect.DeepEqual(scalesWith, without.Steps) {
		t.Error("turning relabels off changed the scale choices")
	}
}

func TestPlanLongerDurationExtendsPrefix(t *testing.T) {
	p := testProfile(20, 1, 50, time.Minute)
	short := NewPlan(9, p)
	p.Churn.Duration.Duration = 5 * time.Minute
	long := NewPlan(9, p)
	if !reflect.DeepEqual(short.Steps, long.Steps[:len(short.Steps)]) {
		t.Error("a longer duration changed the beginning of the plan")
	}
}
