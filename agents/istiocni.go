package agents

import (
	"context"
	"net/http"
	"sync"

	"github.com/churn-dev/churn/agents/watch"
)

// Ambient enrolment annotation the istio-cni node agent sets on pods.
const (
	redirectionAnnotation = "ambient.istio.io/redirection"
	redirectionEnabled    = "enabled"
)

// istioCNI is the istio-cni node agent: for each run pod newly on its node,
// the CNI plugin's ADD reads the pod and its namespace, then the node agent
// enrols the pod and marks it with a merge patch on pods/status. Pods found
// already running at start-up are enrolled without a CNI ADD.
type istioCNI struct {
	r    *replica
	mu   sync.Mutex
	wake chan struct{}

	enrolled map[string]bool // pod UIDs done
	// known are the run pods on the node that are not being deleted: what
	// a settled agent has enrolled.
	known  map[string]bool
	queue  []cniWork
	queued map[string]bool
}

type cniWork struct {
	ns, name, uid string
	cniAdd        bool
}

func newIstioCNI(r *replica) *istioCNI {
	return &istioCNI{r: r, wake: make(chan struct{}, 1), enrolled: map[string]bool{}, known: map[string]bool{}, queued: map[string]bool{}}
}

func (c *istioCNI) handler(feed string) watch.Handler {
	if feed == feedLocalPods {
		return c.onPod
	}
	return nil
}

func (c *istioCNI) onPod(ev *watch.Event) {
	if ev.Type == watch.Synced {
		return
	}
	obj := ev.Object
	if !c.r.comp.mesh.shared.isRun(obj) {
		return
	}
	uid := string(obj.UID)
	c.mu.Lock()
	defer c.mu.Unlock()
	if ev.Type == watch.Deleted || obj.Deleting {
		delete(c.known, uid)
	} else {
		c.known[uid] = true
	}
	if ev.Type == watch.Deleted {
		delete(c.enrolled, uid)
		return
	}
	if v, ok := obj.Annotation(redirectionAnnotation); ok && string(v) == redirectionEnabled {
		c.enrolled[uid] = true
		return
	}
	if obj.Deleting || c.enrolled[uid] || c.queued[uid] {
		return
	}
	c.queued[uid] = true
	c.queue = append(c.queue, cniWork{ns: string(obj.Namespace), name: string(obj.Name), uid: uid,
		cniAdd: ev.Type == watch.Added && !ev.FromList})
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *istioCNI) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		}
		for {
			c.mu.Lock()
			if len(c.queue) == 0 {
				c.mu.Unlock()
				break
			}
			w := c.queue[0]
			c.queue = c.queue[1:]
			c.mu.Unlock()
			done := c.enrol(ctx, w)
			c.mu.Lock()
			delete(c.queued, w.uid)
			if done {
				c.enrolled[w.uid] = true
			}
			c.mu.Unlock()
			if ctx.Err() != nil {
				return
			}
		}
	}
}

var redirectionPatch = []byte(`{"metadata":{"annotations":{"` + redirectionAnnotation + `":"` + redirectionEnabled + `"}}}`)

func (c *istioCNI) enrol(ctx context.Context, w cniWork) bool {
	cl := c.r.client()
	if w.cniAdd {
		// The CNI plugin's ADD: read the pod and its namespace.
		for _, p := range []string{objectPath("", "v1", "pods", w.ns, w.name), objectPath("", "v1", "namespaces", "", w.ns)} {
			if _, err := c.r.do(ctx, apiCall{client: cl, verb: http.MethodGet, path: p, accept: watch.AcceptProtobuf}); err != nil {
				if watch.IsNotFound(err) {
					return true // gone already
				}
				c.r.countError(ctx, "cni add get", err)
			}
		}
	}
	_, err := c.r.do(ctx, apiCall{client: cl, verb: http.MethodPatch, path: objectPath("", "v1", "pods", w.ns, w.name) + "/status",
		body: redirectionPatch, contentType: watch.ContentTypeMergePatch, accept: watch.AcceptProtobuf, key: "patch pods/status"})
	if err != nil {
		if watch.IsNotFound(err) {
			return true
		}
		c.r.countError(ctx, "patch pod status", err)
		return false
	}
	return true
}
