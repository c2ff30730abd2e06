package agents

import (
	"context"
	"encoding/base64"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/churn-dev/churn/agents/watch"
)

// rootCertConfigMap is the ConfigMap istiod's namespace controller keeps in
// every namespace.
const rootCertConfigMap = "istio-ca-root-cert"

// istiod's namespace controller: on the leader of its election, once its
// namespace and configmap informers have synced, it creates
// istio-ca-root-cert in each namespace that lacks it (here: only the run's
// namespaces) and recreates it when deleted. Everything else istiod does
// toward the API server is its watches and leases.
type istiod struct {
	r    *replica
	mu   sync.Mutex
	wake chan struct{}

	nsSynced, cmSynced bool
	runNS              map[string]bool
	haveCM             map[string]bool
}

func newIstiod(r *replica) *istiod {
	return &istiod{r: r, wake: make(chan struct{}, 1), runNS: map[string]bool{}, haveCM: map[string]bool{}}
}

func (d *istiod) handler(feed string) watch.Handler {
	switch feed {
	case feedNamespaces:
		return d.onNamespace
	case feedRootCertMaps:
		return d.onConfigMap
	}
	return nil
}

func (d *istiod) onNamespace(ev *watch.Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case ev.Type == watch.Synced:
		d.nsSynced = true
	case ev.Type == watch.Deleted:
		delete(d.runNS, string(ev.Object.Name))
		return
	case d.r.comp.mesh.shared.isRun(ev.Object) && !ev.Object.Deleting:
		d.runNS[string(ev.Object.Name)] = true
	default:
		return
	}
	d.poke()
}

func (d *istiod) onConfigMap(ev *watch.Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch ev.Type {
	case watch.Synced:
		d.cmSynced = true
	case watch.Deleted:
		delete(d.haveCM, string(ev.Object.Namespace))
	default:
		d.haveCM[string(ev.Object.Namespace)] = true
		return
	}
	d.poke()
}

func (d *istiod) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// missing returns the run namespaces without the configmap, once synced.
func (d *istiod) missing() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.nsSynced || !d.cmSynced {
		return nil
	}
	var out []string
	for ns := range d.runNS {
		if !d.haveCM[ns] {
			out = append(out, ns)
		}
	}
	sort.Strings(out)
	return out
}

func (d *istiod) run(ctx context.Context) {
	clk := d.r.comp.mesh.clock
	// Re-check periodically: leadership may arrive without an event.
	tick := clk.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-tick.C():
		}
		if !d.r.leading() {
			continue
		}
		for _, ns := range d.missing() {
			if ctx.Err() != nil {
				return
			}
			d.ensure(ctx, ns)
		}
	}
}

func (d *istiod) ensure(ctx context.Context, ns string) {
	labels := map[string]string{"istio.io/config": "true"}
	for k, v := range d.r.comp.mesh.cfg.RunLabels {
		labels[k] = v
	}
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: rootCertConfigMap, Namespace: ns, Labels: labels},
		Data:       map[string]string{"root-cert.pem": fakeRootCert},
	}
	body, err := encodeProto(cm)
	if err != nil {
		d.r.countError(ctx, "encode configmap", err)
		return
	}
	_, err = d.r.do(ctx, apiCall{client: d.r.client(), verb: http.MethodPost, path: objectPath("", "v1", "configmaps", ns, ""),
		body: body, contentType: watch.ContentTypeProtobuf, accept: watch.AcceptProtobuf, key: "create configmaps"})
	switch {
	case err == nil, watch.IsAlreadyExists(err):
		d.mu.Lock()
		d.haveCM[ns] = true
		d.mu.Unlock()
	case watch.IsNotFound(err): // the namespace is going away
	default:
		d.r.countError(ctx, "create configmap", err)
	}
}

// fakeRootCert is PEM-shaped filler of a real root certificate's size, so
// the ConfigMap weighs what istiod's does.
var fakeRootCert = func() string {
	raw := make([]byte, 800)
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	enc := base64.StdEncoding.EncodeToString(raw)
	var b strings.Builder
	b.WriteString("-----BEGIN CERTIFICATE-----\n")
	for len(enc) > 64 {
		b.WriteString(enc[:64] + "\n")
		enc = enc[64:]
	}
	b.WriteString(enc + "\n-----END CERTIFICATE-----\n")
	return b.String()
}()
