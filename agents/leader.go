package agents

import (
	"context"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"go.uber.org/zap"

	"github.com/churn-dev/churn/agents/watch"
)

// elector is client-go's leader election (tools/leaderelection) reduced to
// its requests: while acquiring, a GET (and a PUT or POST when the lease is
// free) every RetryPeriod with 1.2 jitter; while leading, an optimistic PUT
// every RetryPeriod, falling back to GET+PUT; leadership is lost when no
// renewal succeeds within RenewDeadline.
type elector struct {
	r      *replica
	spec   LeaseSpec
	leader atomic.Bool

	rv           string
	holder       string
	acquireTime  time.Time
	transitions  int32
	observedTime time.Time
	observedDur  time.Duration
}

// jitterFactor is leaderelection.JitterFactor.
const jitterFactor = 1.2

func newElector(r *replica, spec LeaseSpec) *elector { return &elector{r: r, spec: spec} }

func (e *elector) isLeader() bool { return e.leader.Load() }

func (e *elector) run(ctx context.Context) {
	defer e.leader.Store(false)
	for ctx.Err() == nil {
		if !e.leader.Load() {
			if e.tryAcquireOrRenew(ctx) {
				e.leader.Store(true)
				continue
			}
			jittered := time.Duration(float64(e.spec.RetryPeriod) * (1 + rand.Float64()*jitterFactor))
			if !e.sleep(ctx, jittered) {
				return
			}
			continue
		}
		if !e.sleep(ctx, e.spec.RetryPeriod) {
			return
		}
		deadline := e.clock().Now().Add(e.spec.RenewDeadline)
		for !e.tryAcquireOrRenew(ctx) {
			if ctx.Err() != nil {
				return
			}
			if e.clock().Now().After(deadline) {
				e.leader.Store(false)
				e.r.log.Info("lost leader lease", zap.String("lease", e.spec.Name))
				break
			}
			if !e.sleep(ctx, e.spec.RetryPeriod) {
				return
			}
		}
	}
}

func (e *elector) clock() interface{ Now() time.Time } { return e.r.comp.mesh.clock }

func (e *elector) sleep(ctx context.Context, d time.Duration) bool {
	t := e.r.comp.mesh.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-ctx.Done():
		return false
	}
}

func (e *elector) path(name string) string {
	return objectPath("coordination.k8s.io", "v1", "leases", e.r.comp.mesh.systemNamespace, name)
}

func (e *elector) tryAcquireOrRenew(ctx context.Context) bool {
	now := e.clock().Now()
	c := e.r.client()
	if e.leader.Load() && e.valid(now) && !e.spec.GetBeforeRenew {
		if e.put(ctx, c, now, e.acquireTime, e.transitions) {
			return true
		}
	}
	body, err := e.r.do(ctx, apiCall{client: c, verb: http.MethodGet, path: e.path(e.spec.Name), accept: watch.AcceptProtobuf})
	if err != nil {
		if !watch.IsNotFound(err) {
			e.r.countError(ctx, "get lease", err)
			return false
		}
		return e.create(ctx, c, now)
	}
	var lease coordinationv1.Lease
	if err := decodeTyped(body, &lease); err != nil {
		e.r.countError(ctx, "decode lease", err)
		return false
	}
	e.observe(&lease, now)
	if e.holder != "" && e.holder != e.r.id && e.valid(now) {
		return false
	}
	transitions := e.transitions
	acquire := e.acquireTime
	if !e.leader.Load() {
		transitions++
		acquire = now
	}
	return e.put(ctx, c, now, acquire, transitions)
}

func (e *elector) valid(now time.Time) bool {
	return e.observedTime.Add(e.observedDur).After(now)
}

func (e *elector) observe(l *coordinationv1.Lease, now time.Time) {
	holder := ""
	if l.Spec.HolderIdentity != nil {
		holder = *l.Spec.HolderIdentity
	}
	if holder != e.holder || l.ResourceVersion != e.rv {
		e.observedTime = now
	}
	e.holder, e.rv = holder, l.ResourceVersion
	e.observedDur = 0
	if l.Spec.LeaseDurationSeconds != nil {
		e.observedDur = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
	}
	if l.Spec.LeaseTransitions != nil {
		e.transitions = *l.Spec.LeaseTransitions
	}
	if l.Spec.AcquireTime != nil {
		e.acquireTime = l.Spec.AcquireTime.Time
	}
}

func (e *elector) lease(now, acquire time.Time, transitions int32) *coordinationv1.Lease {
	dur := int32(e.spec.LeaseDuration / time.Second)
	id := e.r.id
	return &coordinationv1.Lease{
		TypeMeta: metav1.TypeMeta{APIVersion: "coordination.k8s.io/v1", Kind: "Lease"},
		ObjectMeta: metav1.ObjectMeta{Name: e.spec.Name, Namespace: e.r.comp.mesh.systemNamespace,
			ResourceVersion: e.rv, Labels: e.r.comp.mesh.cfg.RunLabels},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity: &id, LeaseDurationSeconds: &dur, LeaseTransitions: &transitions,
			AcquireTime: &metav1.MicroTime{Time: acquire}, RenewTime: &metav1.MicroTime{Time: now},
		},
	}
}

func (e *elector) create(ctx context.Context, c *watch.Client, now time.Time) bool {
	e.rv = ""
	body, err := encodeProto(e.lease(now, now, 0))
	if err != nil {
		e.r.countError(ctx, "encode lease", err)
		return false
	}
	resp, err := e.r.do(ctx, apiCall{client: c, verb: http.MethodPost, path: e.path(""), body: body,
		contentType: watch.ContentTypeProtobuf, accept: watch.AcceptProtobuf, key: "create leases"})
	if err != nil {
		if !watch.IsAlreadyExists(err) {
			e.r.countError(ctx, "create lease", err)
		}
		return false
	}
	return e.accept(resp, now)
}

func (e *elector) put(ctx context.Context, c *watch.Client, now, acquire time.Time, transitions int32) bool {
	body, err := encodeProto(e.lease(now, acquire, transitions))
	if err != nil {
		e.r.countError(ctx, "encode lease", err)
		return false
	}
	resp, err := e.r.do(ctx, apiCall{client: c, verb: http.MethodPut, path: e.path(e.spec.Name), body: body,
		contentType: watch.ContentTypeProtobuf, accept: watch.AcceptProtobuf, key: "update leases"})
	if err != nil {
		if !watch.IsConflict(err) {
			e.r.countError(ctx, "update lease", err)
		}
		return false
	}
	return e.accept(resp, now)
}

func (e *elector) accept(body []byte, now time.Time) bool {
	var lease coordinationv1.Lease
	if err := decodeTyped(body, &lease); err != nil {
		return false
	}
	e.observe(&lease, now)
	e.observedTime = now
	return e.holder == e.r.id
}
