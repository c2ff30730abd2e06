package churn

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// setupProgressEvery spaces setup progress lines.
	setupProgressEvery = 5 * time.Second
	// setupWorkers is how many namespaces are filled at once. The limiter
	// sets the rate; workers only hide request latency, which on a loaded
	// 2-core control plane is a few hundred milliseconds per create and
	// would otherwise, not createQPS, bound the setup.
	setupWorkers = 8
)

// Setup creates every namespace, service and deployment of the workload at
// no more than the profile's workload.createQPS. Each namespace is filled
// (namespace, then its services, then its deployments, so EndpointSlices
// follow the pods from the first one) by one of a few workers, so pods start
// scheduling while the rest is being created. An object that already exists
// is accepted only if it carries this run's label (a re-run of Setup);
// anything else with the same name is left alone and is an error.
func (e *Engine) Setup(ctx context.Context) error {
	s := &setupRun{
		e:       e,
		limiter: rate.NewLimiter(rate.Limit(e.profile.Workload.CreateQPS), 1),
		total:   e.w.namespaces + 2*e.w.deployments(),
	}
	e.setupStart = e.clock.Now()
	s.lastProgress = e.setupStart

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(setupWorkers, e.w.namespaces) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := s.fill(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
feed:
	for i := range e.w.namespaces {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return fmt.Errorf("setup stopped after %d/%d objects: %w", s.created, s.total, err)
	}
	e.createSeconds = e.clock.Since(e.setupStart).Seconds()
	e.log.Info("workload created",
		zap.Int("namespaces", e.w.namespaces),
		zap.Int("deployments", e.w.deployments()),
		zap.Float64("seconds", e.createSeconds))
	return nil
}

// setupRun is the shared state of Setup's workers.
type setupRun struct {
	e       *Engine
	limiter *rate.Limiter
	total   int

	mu           sync.Mutex
	created      int
	lastProgress time.Time
}

// fill creates namespace i and everything in it.
func (s *setupRun) fill(ctx context.Context, i int) error {
	e := s.e
	nsObj := e.w.namespaceObject(i)
	namespaces := e.client.CoreV1().Namespaces()
	err := s.create(ctx, "namespace", "", nsObj.Name,
		func(ctx context.Context) error {
			_, err := namespaces.Create(ctx, nsObj, metav1.CreateOptions{})
			return err
		},
		func(ctx context.Context) (map[string]string, error) {
			o, err := namespaces.Get(ctx, nsObj.Name, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			return o.Labels, nil
		})
	if err != nil {
		return err
	}
	services := e.client.CoreV1().Services(nsObj.Name)
	for j := range e.w.perNS {
		svc := e.w.serviceObject(nsObj.Name, deploymentName(j))
		err := s.create(ctx, "service", svc.Namespace, svc.Name,
			func(ctx context.Context) error {
				_, err := services.Create(ctx, svc, metav1.CreateOptions{})
				return err
			},
			func(ctx context.Context) (map[string]string, error) {
				o, err := services.Get(ctx, svc.Name, metav1.GetOptions{})
				if err != nil {
					return nil, err
				}
				return o.Labels, nil
			})
		if err != nil {
			return err
		}
	}
	deployments := e.client.AppsV1().Deployments(nsObj.Name)
	for j := range e.w.perNS {
		dep := e.w.deploymentObject(nsObj.Name, deploymentName(j))
		err := s.create(ctx, "deployment", dep.Namespace, dep.Name,
			func(ctx context.Context) error {
				_, err := deployments.Create(ctx, dep, metav1.CreateOptions{})
				return err
			},
			func(ctx context.Context) (map[string]string, error) {
				o, err := deployments.Get(ctx, dep.Name, metav1.GetOptions{})
				if err != nil {
					return nil, err
				}
				return o.Labels, nil
			})
		if err != nil {
			return err
		}
		e.noteDeploymentCreated()
	}
	return nil
}

// create paces one create call, makes it idempotent for this run's own
// objects, and reports progress.
func (s *setupRun) create(ctx context.Context, kind, namespace, name string,
	create func(context.Context) error, labels func(context.Context) (map[string]string, error)) error {
	if err := s.limiter.Wait(ctx); err != nil {
		return fmt.Errorf("create %s %s/%s: %w", kind, namespace, name, err)
	}
	if err := s.e.ensure(ctx, kind, namespace, name, create, labels); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.created++
	if now := s.e.clock.Now(); now.Sub(s.lastProgress) >= setupProgressEvery || s.created == s.total {
		s.lastProgress = now
		s.e.printf("setup: created %d/%d objects (namespaces, services, deployments)", s.created, s.total)
	}
	return nil
}

// noteDeploymentCreated records the start of the ramp and counts services
// (one per deployment).
func (e *Engine) noteDeploymentCreated() {
	e.setupMu.Lock()
	defer e.setupMu.Unlock()
	if e.firstDeployment.IsZero() {
		e.firstDeployment = e.clock.Now()
	}
	e.services++
}

// ensure creates one object; if it already exists it must carry this run's
// label, so a re-run is idempotent but a foreign object is never adopted.
func (e *Engine) ensure(ctx context.Context, kind, namespace, name string,
	create func(context.Context) error, labels func(context.Context) (map[string]string, error)) error {
	ref := name
	if namespace != "" {
		ref = namespace + "/" + name
	}
	err := create(ctx)
	if err == nil {
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create %s %s: %w", kind, ref, err)
	}
	l, err := labels(ctx)
	if err != nil {
		return fmt.Errorf("%s %s already exists and reading it failed: %w", kind, ref, err)
	}
	if l[LabelRun] != e.runID {
		return fmt.Errorf("%s %s already exists and does not belong to run %s (its %s label is %q); refusing to touch it",
			kind, ref, e.runID, LabelRun, l[LabelRun])
	}
	return nil
}
