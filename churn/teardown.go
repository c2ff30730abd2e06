package churn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/churn-dev/churn/internal/cleanup"
)

// Teardown defaults.
const (
	DefaultTeardownTimeout = 10 * time.Minute
	teardownPoll           = 2 * time.Second
	teardownProgressEvery  = 10 * time.Second
	teardownShown          = 5
)

// TeardownConfig is what TeardownWith needs.
type TeardownConfig struct {
	Client kubernetes.Interface
	// Dynamic, if set, also sweeps every cluster-scoped resource type the
	// server lists (except nodes, which fakenodes.Delete owns, and
	// namespaces) for objects with the run label.
	Dynamic  dynamic.Interface
	Clock    clock.Clock
	Logger   *zap.Logger
	Progress io.Writer
	RunID    string
	// Timeout bounds how long teardown waits without a single namespace of
	// the run disappearing; 0 means DefaultTeardownTimeout. A bound on
	// progress rather than on the total, because the namespace controller
	// removes about 50 pods a second here, so a 50k-pod run needs a
	// quarter of an hour and a bound on the total would have to grow with
	// the workload.
	Timeout time.Duration
}

// Teardown deletes the run's namespaces (and so everything in them) and
// waits until they are gone. It selects by the run label and checks the
// label again on every object before deleting it, with the object's UID as
// a precondition, so nothing without the label is ever deleted. Call it
// with a context that survives the first Ctrl-C.
func Teardown(ctx context.Context, client kubernetes.Interface, runID string, progress io.Writer) error {
	return TeardownWith(ctx, TeardownConfig{Client: client, RunID: runID, Progress: progress})
}

// TeardownWith is Teardown with every dependency explicit.
func TeardownWith(ctx context.Context, cfg TeardownConfig) error {
	if cfg.Client == nil || cfg.RunID == "" {
		return errors.New("teardown: Client and RunID are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTeardownTimeout
	}
	t := teardown{cfg: cfg, selector: RunSelector(cfg.RunID)}
	var errs []error
	if err := t.deleteWorkloads(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := t.deleteNamespaces(ctx); err != nil {
		errs = append(errs, err)
	}
	if cfg.Dynamic != nil {
		if err := t.sweepClusterScoped(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		errs = append(errs, t.waitNamespacesGone(ctx))
	}
	return errors.Join(errs...)
}

type teardown struct {
	cfg      TeardownConfig
	selector string
}

func (t teardown) printf(format string, args ...any) {
	_, _ = fmt.Fprintf(t.cfg.Progress, format+"\n", args...)
}

func (t teardown) listNamespaces(ctx context.Context) ([]corev1.Namespace, error) {
	list, err := t.cfg.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: t.selector})
	if err != nil {
		return nil, fmt.Errorf("teardown: list namespaces of run %s: %w", t.cfg.RunID, err)
	}
	// The selector already filters; checking again means a server (or a
	// fake) that ignored it can never make us delete a stranger.
	var ours []corev1.Namespace
	for _, ns := range list.Items {
		if ns.Labels[LabelRun] == t.cfg.RunID {
			ours = append(ours, ns)
		}
	}
	return ours, nil
}

func (t teardown) deleteNamespaces(ctx context.Context) error {
	namespaces, err := t.listNamespaces(ctx)
	if err != nil {
		return err
	}
	t.printf("teardown: deleting %d namespaces of run %s", len(namespaces), t.cfg.RunID)
	// Namespaces have no deletecollection; bounded parallel deletes keep a
	// few hundred of them from taking a minute of round trips.
	err = cleanup.Parallel(ctx, cleanup.DefaultWorkers, len(namespaces), func(i int) error {
		ns := namespaces[i]
		if ns.DeletionTimestamp != nil {
			return nil
		}
		uid := ns.UID
		err := t.cfg.Client.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{
			Preconditions:     &metav1.Preconditions{UID: &uid},
			PropagationPolicy: ptr.To(metav1.DeletePropagationBackground),
		})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete namespace %s: %w", ns.Name, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("teardown: %w", err)
	}
	return nil
}

// deleteWorkloads deletes the run's services, deployments, replica sets and
// pods, in that order, before the namespaces go: services first so that the
// EndpointSlice controller does not rewrite a slice for every pod deleted;
// controllers before pods so that no replica set creates them again (as it
// may when the namespace controller deletes pods first). Deployments,
// replica sets and pods go in one collection delete each per namespace.
func (t teardown) deleteWorkloads(ctx context.Context) error {
	namespaces, err := t.listNamespaces(ctx)
	if err != nil {
		return err
	}
	if len(namespaces) == 0 {
		return nil
	}
	t.printf("teardown: deleting services, deployments, replica sets and pods in %d namespaces", len(namespaces))
	start := t.cfg.Clock.Now()
	var done atomic.Int64
	stop := cleanup.Every(teardownProgressEvery, func() {
		t.printf("teardown: workloads deleted in %d of %d namespaces", done.Load(), len(namespaces))
	})
	defer stop()
	del := metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}
	sel := metav1.ListOptions{LabelSelector: t.selector}
	err = cleanup.Parallel(ctx, cleanup.DefaultWorkers, len(namespaces), func(i int) error {
		defer done.Add(1)
		ns := namespaces[i].Name
		steps := []struct {
			what string
			fn   func() error
		}{
			{"services", func() error { return t.deleteServices(ctx, ns) }},
			{"deployments", func() error { return t.cfg.Client.AppsV1().Deployments(ns).DeleteCollection(ctx, del, sel) }},
			{"replicasets", func() error { return t.cfg.Client.AppsV1().ReplicaSets(ns).DeleteCollection(ctx, del, sel) }},
			{"pods", func() error { return t.cfg.Client.CoreV1().Pods(ns).DeleteCollection(ctx, del, sel) }},
		}
		for _, s := range steps {
			if err := s.fn(); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("delete %s in namespace %s: %w", s.what, ns, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("teardown: %w", err)
	}
	t.printf("teardown: workloads deleted in %d namespaces in %s", len(namespaces), t.cfg.Clock.Since(start).Round(100*time.Millisecond))
	return nil
}

// deleteServices deletes the run's services in ns one by one: services
// serve no deletecollection.
func (t teardown) deleteServices(ctx context.Context, ns string) error {
	list, err := t.cfg.Client.CoreV1().Services(ns).List(ctx, metav1.ListOptions{LabelSelector: t.selector})
	if err != nil {
		return err
	}
	for _, svc := range list.Items {
		if svc.Labels[LabelRun] != t.cfg.RunID {
			continue
		}
		uid := svc.UID
		err := t.cfg.Client.CoreV1().Services(ns).Delete(ctx, svc.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return err
		}
	}
	return nil
}

// waitNamespacesGone polls until no namespace of the run is left.
func (t teardown) waitNamespacesGone(ctx context.Context) error {
	p := pacer{clock: t.cfg.Clock}
	lastChange := t.cfg.Clock.Now()
	remaining := -1
	var lastPrinted time.Time
	printedOnce := false
	for {
		now := t.cfg.Clock.Now()
		left, err := t.listNamespaces(ctx)
		if err != nil {
			t.cfg.Logger.Warn("teardown: listing namespaces failed; retrying", zap.Error(err))
		} else if len(left) == 0 {
			t.printf("teardown: all namespaces of run %s are gone", t.cfg.RunID)
			return nil
		} else {
			if len(left) != remaining {
				remaining, lastChange = len(left), now
			}
			if !printedOnce || now.Sub(lastPrinted) >= teardownProgressEvery {
				t.printf("teardown: %d namespaces still terminating", len(left))
				printedOnce, lastPrinted = true, now
			}
		}
		if now.Sub(lastChange) >= t.cfg.Timeout {
			return fmt.Errorf("teardown: no namespace of run %s went away for %s: %s", t.cfg.RunID, t.cfg.Timeout, describeNamespaces(left, err))
		}
		if err := p.waitUntil(ctx, now.Add(teardownPoll)); err != nil {
			return fmt.Errorf("teardown interrupted with namespaces left: %w", err)
		}
	}
}

func describeNamespaces(left []corev1.Namespace, listErr error) string {
	if listErr != nil {
		return fmt.Sprintf("last list failed: %v", listErr)
	}
	var parts []string
	for _, ns := range left[:min(len(left), teardownShown)] {
		part := fmt.Sprintf("%s (%s", ns.Name, ns.Status.Phase)
		for _, c := range ns.Status.Conditions {
			if c.Status == corev1.ConditionTrue {
				part += ", " + c.Message
			}
		}
		parts = append(parts, part+")")
	}
	msg := fmt.Sprintf("%d left: %s", len(left), strings.Join(parts, ", "))
	if len(left) > teardownShown {
		msg += ", ..."
	}
	return msg
}

// skipSweep are cluster-scoped resources the sweep leaves alone: nodes are
// deleted by fakenodes.Delete, namespaces above.
var skipSweep = sets.New("nodes", "namespaces")

// sweepClusterScoped deletes cluster-scoped objects with the run label, of
// every listable, deletable resource type the server serves.
func (t teardown) sweepClusterScoped(ctx context.Context) error {
	d := discovery.ToDiscoveryInterfaceWithContext(t.cfg.Client.Discovery())
	groups, lists, err := d.ServerGroupsAndResourcesWithContext(ctx)
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return fmt.Errorf("teardown: discover resource types: %w", err)
	}
	if err != nil {
		// Some aggregated API is down; sweep what was discovered.
		t.cfg.Logger.Warn("teardown: partial discovery", zap.Error(err))
	}
	// One version per group is enough: every version serves the same
	// objects.
	preferred := sets.New[string]()
	for _, g := range groups {
		preferred.Insert(g.PreferredVersion.GroupVersion)
	}
	lists = slices.DeleteFunc(lists, func(l *metav1.APIResourceList) bool { return !preferred.Has(l.GroupVersion) })
	var errs []error
	deleted := 0
	for _, list := range lists {
		gv, perr := schema.ParseGroupVersion(list.GroupVersion)
		if perr != nil {
			continue
		}
		for _, r := range list.APIResources {
			verbs := sets.New(r.Verbs...)
			if r.Namespaced || strings.Contains(r.Name, "/") || skipSweep.Has(r.Name) || !verbs.HasAll("list", "delete") {
				continue
			}
			n, err := t.sweep(ctx, gv.WithResource(r.Name))
			deleted += n
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	if deleted > 0 {
		t.printf("teardown: deleted %d cluster-scoped objects of run %s", deleted, t.cfg.RunID)
	}
	return errors.Join(errs...)
}

func (t teardown) sweep(ctx context.Context, gvr schema.GroupVersionResource) (int, error) {
	client := t.cfg.Dynamic.Resource(gvr)
	list, err := client.List(ctx, metav1.ListOptions{LabelSelector: t.selector})
	if err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) || apierrors.IsForbidden(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("teardown: list %s: %w", gvr.String(), err)
	}
	deleted := 0
	var errs []error
	for _, obj := range list.Items {
		if obj.GetLabels()[LabelRun] != t.cfg.RunID {
			continue
		}
		uid := obj.GetUID()
		err := client.Delete(ctx, obj.GetName(), metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		switch {
		case err == nil:
			deleted++
		case !apierrors.IsNotFound(err):
			errs = append(errs, fmt.Errorf("teardown: delete %s %s: %w", gvr.Resource, obj.GetName(), err))
		}
	}
	return deleted, errors.Join(errs...)
}
