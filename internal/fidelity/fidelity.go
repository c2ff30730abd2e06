// Package fidelity holds what the fidelity tests share, the tests that
// check an emulated mesh component against the real program: a small
// workload on a local cluster, the churn script both sides go through,
// the observation windows, and the checks of two request mixes read from
// the API server's audit log (internal/auditmix).
package fidelity

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/churn-dev/churn/fakenodes"
	"github.com/churn-dev/churn/internal/auditmix"
)

// The phases of an observation: the start-up window (initial LIST/WATCH,
// the first writes) and a steady window with churn. Both sides get windows
// of the same length, so time-driven requests (lease renewals) weigh the
// same in both mixes.
const (
	StartupWindow = 60 * time.Second
	SteadyWindow  = 90 * time.Second
	// ShareTolerancePoints is the largest per-(verb, resource) share
	// difference accepted, in percentage points of each side's total.
	ShareTolerancePoints = 10.0
)

// Phases are the windows compared, in order.
var Phases = []string{"start-up", "steady"}

// Workload is the cluster's fake nodes and the test's namespaces, each
// with a Deployment "web" and a Service. Every object, pods included,
// carries Labels (the emulated agents write only for labelled pods).
type Workload struct {
	CS         kubernetes.Interface
	Labels     map[string]string
	Namespaces []string
}

// NewWorkload creates nodes fake nodes (labelled, as a run labels its
// nodes) and namespaces namespaces of replicas pods each, and waits until
// every pod is Ready.
func NewWorkload(t *testing.T, ctx context.Context, cs kubernetes.Interface, labels map[string]string, nodes, namespaces int, replicas int32) *Workload {
	t.Helper()
	if _, err := fakenodes.Create(ctx, cs, fakenodes.Spec{Count: nodes, QPS: 100, Labels: labels}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := fakenodes.WaitReady(ctx, cs, fakenodes.LabelSelector, nodes, io.Discard); err != nil {
		t.Fatal(err)
	}
	w := &Workload{CS: cs, Labels: labels}
	for i := range namespaces {
		ns := fmt.Sprintf("fidelity-%d", i)
		w.Namespaces = append(w.Namespaces, ns)
		if err := w.AddNamespace(ctx, ns); err != nil {
			t.Fatal(err)
		}
		podLabels := map[string]string{"app": "web"}
		for k, v := range labels {
			podLabels[k] = v
		}
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, Labels: labels},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To(replicas),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
					Spec: corev1.PodSpec{NodeSelector: fakenodes.NodeSelector(), Tolerations: []corev1.Toleration{fakenodes.Toleration()},
						Containers: []corev1.Container{{Name: "app", Image: "fake.invalid/app:1"}}},
				},
			},
		}
		if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, Labels: labels},
			Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
		}
		if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, ns := range w.Namespaces {
		w.WaitReady(t, ctx, ns)
	}
	return w
}

// WaitReady bounds the wait for the namespace's deployment to be Ready.
func (w *Workload) WaitReady(t *testing.T, ctx context.Context, ns string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := w.CS.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		return d.Status.ObservedGeneration == d.Generation && d.Status.ReadyReplicas == *d.Spec.Replicas &&
			d.Status.Replicas == *d.Spec.Replicas, nil
	})
	if err != nil {
		t.Fatalf("deployment %s/web not ready: %v", ns, err)
	}
}

// Step is one action of a churn script, At into the steady window.
type Step struct {
	At time.Duration
	Do func(ctx context.Context) error
}

// DefaultSteps are the steady window's script: three scale-downs, a
// namespace relabel, and a new namespace. side names the observation (it
// goes into the relabel value and the new namespace's name).
func (w *Workload) DefaultSteps(side string) []Step {
	return []Step{
		{5 * time.Second, func(ctx context.Context) error { return w.Scale(ctx, w.Namespaces[0], 7) }},
		{20 * time.Second, func(ctx context.Context) error { return w.Relabel(ctx, w.Namespaces[1], side) }},
		{35 * time.Second, func(ctx context.Context) error { return w.Scale(ctx, w.Namespaces[1], 3) }},
		{50 * time.Second, func(ctx context.Context) error { return w.AddNamespace(ctx, "fidelity-new-"+side) }},
		{65 * time.Second, func(ctx context.Context) error { return w.Scale(ctx, w.Namespaces[0], 5) }},
	}
}

// Churn runs steps in the background, each at its offset from now, and
// returns at once.
func (w *Workload) Churn(t *testing.T, ctx context.Context, side string, steps []Step) {
	start := time.Now()
	go func() {
		for _, s := range steps {
			time.Sleep(time.Until(start.Add(s.At)))
			if err := s.Do(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("%s: churn step at %s: %v", side, s.At, err)
			}
		}
	}()
}

// Reset scales every namespace's deployment back to replicas and waits
// until they are Ready, so a second observation starts where the first
// did.
func (w *Workload) Reset(t *testing.T, ctx context.Context, replicas int32) {
	t.Helper()
	for _, ns := range w.Namespaces {
		if err := w.Scale(ctx, ns, replicas); err != nil {
			t.Fatal(err)
		}
	}
	for _, ns := range w.Namespaces {
		w.WaitReady(t, ctx, ns)
	}
}

// Scale sets the replicas of the namespace's deployment.
func (w *Workload) Scale(ctx context.Context, ns string, replicas int32) error {
	patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas)
	_, err := w.CS.AppsV1().Deployments(ns).Patch(ctx, "web", types.MergePatchType, []byte(patch), metav1.PatchOptions{}, "scale")
	return err
}

// Relabel sets a label on the namespace (a new identity for its pods).
func (w *Workload) Relabel(ctx context.Context, ns, value string) error {
	patch := fmt.Sprintf(`{"metadata":{"labels":{"churn.dev/generation":%q}}}`, value)
	_, err := w.CS.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}

// AddNamespace creates a labelled namespace.
func (w *Workload) AddNamespace(ctx context.Context, ns string) error {
	_, err := w.CS.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: w.Labels}}, metav1.CreateOptions{})
	return err
}

// Observation is when one side ran: its start-up window [Start, Steady)
// and its steady window [Steady, Finish).
type Observation struct {
	Start, Steady, Finish time.Time
}

// Observe starts a side (start returns its stop), waits out the start-up
// window, runs steps (DefaultSteps if none) through the steady window, and
// stops it.
func (w *Workload) Observe(t *testing.T, ctx context.Context, side string, steps []Step, start func() (stop func())) Observation {
	t.Helper()
	o := Observation{Start: time.Now()}
	stop := start()
	defer stop()
	o.Steady = o.Start.Add(StartupWindow)
	if now := time.Now(); now.After(o.Steady) {
		t.Fatalf("%s: start-up took %s, longer than the %s window", side, now.Sub(o.Start), StartupWindow)
	}
	time.Sleep(time.Until(o.Steady))
	if steps == nil {
		steps = w.DefaultSteps(side)
	}
	w.Churn(t, ctx, side, steps)
	o.Finish = o.Steady.Add(SteadyWindow)
	time.Sleep(time.Until(o.Finish))
	return o
}

// In keeps the requests received in the named phase's window.
func (o Observation) In(phase string) func(auditmix.Request) bool {
	from, to := o.Start, o.Steady
	if phase == "steady" {
		from, to = o.Steady, o.Finish
	}
	return func(r auditmix.Request) bool { return !r.Received.Before(from) && r.Received.Before(to) }
}

// Known maps a difference ("verb resource" or a watched collection) to
// its reason.
type Known map[string]string

// Check fails t for every difference between the sides (A the real
// program, B the emulation) that known does not explain: a watched
// collection only one side has (from full, every request), a point
// (verb, resource) only one side makes, or, on point pairs both make, a
// share apart by more than ShareTolerancePoints (from points, the
// requests that are not LIST or WATCH). With common, shares are taken of
// the requests on pairs both sides make, so that a known one-sided
// request does not shift every other share.
func Check(t *testing.T, phase string, full, points auditmix.Comparison, knownOnlyReal, knownOnlyEmulated Known, common bool) {
	t.Helper()
	check := func(what string, items []string, known Known) {
		for _, it := range items {
			if why, ok := known[it]; ok {
				t.Logf("%s: known difference, %s %s: %s", phase, what, it, why)
				continue
			}
			t.Errorf("%s: %s %s", phase, what, it)
		}
	}
	check("only the real program makes", Keys(points.OnlyA), knownOnlyReal)
	check("only the emulation makes", Keys(points.OnlyB), knownOnlyEmulated)
	check("only the real program watches", Watches(full.WatchedOnlyA), knownOnlyReal)
	check("only the emulation watches", Watches(full.WatchedOnlyB), knownOnlyEmulated)
	totalA, totalB := points.TotalA, points.TotalB
	if common {
		totalA, totalB = 0, 0
		for _, r := range points.Rows {
			if r.CountA > 0 && r.CountB > 0 {
				totalA += r.CountA
				totalB += r.CountB
			}
		}
	}
	for _, r := range points.Rows {
		if r.CountA == 0 || r.CountB == 0 {
			continue
		}
		d := 100 * (float64(r.CountB)/float64(totalB) - float64(r.CountA)/float64(totalA))
		if d > ShareTolerancePoints || d < -ShareTolerancePoints {
			t.Errorf("%s: share of %s differs by %+.1f pp (tolerance %.0f pp)", phase, r.Key, d, ShareTolerancePoints)
		}
	}
}

// WorstCommonDiff is the largest share difference, in percentage points,
// on the point pairs both sides make, shares taken of those pairs.
func WorstCommonDiff(points auditmix.Comparison) (auditmix.Key, float64) {
	var totalA, totalB int
	for _, r := range points.Rows {
		if r.CountA > 0 && r.CountB > 0 {
			totalA += r.CountA
			totalB += r.CountB
		}
	}
	var worst auditmix.Key
	var max float64
	for _, r := range points.Rows {
		if r.CountA == 0 || r.CountB == 0 {
			continue
		}
		d := 100 * (float64(r.CountB)/float64(totalB) - float64(r.CountA)/float64(totalA))
		if d < 0 {
			d = -d
		}
		if d > max {
			worst, max = r.Key, d
		}
	}
	return worst, max
}

// Keys renders (verb, resource) pairs.
func Keys(ks []auditmix.Key) []string {
	var out []string
	for _, k := range ks {
		out = append(out, k.String())
	}
	return out
}

// Watches renders watched collections.
func Watches(ws []auditmix.Watch) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.String())
	}
	return out
}
