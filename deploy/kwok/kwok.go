// Package kwok is the kwok controller churn's fake nodes need. The YAML
// files here are a kustomize base (kubectl apply -k deploy/kwok) and are
// embedded, so churn can install the same objects into a cluster itself
// (churn run --kwok install) and the local control plane's kwok runs with
// the same configuration and stages (Config).
package kwok

import (
	"embed"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/churn-dev/churn/deploy/manifests"
)

//go:embed *.yaml
var files embed.FS

const (
	// DefaultNamespace is where churn installs kwok, as kwok's own manifests
	// do. An existing namespace means nothing of the run's namespace
	// teardown can take kwok away while it still has pods to finish, and
	// kube-system's service accounts get API priority and fairness's
	// workload-high level, so node heartbeats do not queue behind the
	// workload churn generates.
	DefaultNamespace = "kube-system"
	// FieldManager owns the fields Install applies.
	FieldManager = "churn"
	// DeploymentName is the kwok controller's Deployment.
	DeploymentName = "churn-kwok-controller"

	// baseNamespace is the namespace the YAML files use; Objects moves what
	// is there to the namespace asked for.
	baseNamespace = "kube-system"
	configMapName = "churn-kwok-config"
	configKey     = "kwok.yaml"
)

// base returns the objects of the kustomize base, in its order.
func base() ([]*unstructured.Unstructured, error) {
	rs, err := manifests.LoadFS(files, ".")
	if err != nil {
		return nil, fmt.Errorf("kwok manifests: %w", err)
	}
	return manifests.Objects(rs), nil
}

// Config returns kwok's configuration file (--config): the KwokConfiguration
// with its worker counts and the Stage documents churn's fake nodes and
// pods go through, from the base's ConfigMap.
func Config() ([]byte, error) {
	objs, err := base()
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		if o.GetKind() != "ConfigMap" || o.GetName() != configMapName {
			continue
		}
		s, ok, err := unstructured.NestedString(o.Object, "data", configKey)
		if err != nil || !ok || s == "" {
			return nil, fmt.Errorf("kwok manifests: ConfigMap %s has no data.%s", configMapName, configKey)
		}
		return []byte(s), nil
	}
	return nil, fmt.Errorf("kwok manifests: no ConfigMap %s", configMapName)
}

// Objects returns the base's objects for an install into namespace, each
// carrying labels. Objects of the base's namespace move to namespace, and
// so do binding subjects there; objects elsewhere (the node-lease Role in
// kube-node-lease) stay. labels must not be empty: Uninstall deletes only
// objects that carry them.
func Objects(namespace string, labels map[string]string) ([]*unstructured.Unstructured, error) {
	if errs := validation.IsDNS1123Label(namespace); len(errs) > 0 {
		return nil, fmt.Errorf("kwok namespace %q: %v", namespace, errs)
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("kwok objects need labels: they are how Uninstall finds them")
	}
	objs, err := base()
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		if o.GetNamespace() == baseNamespace {
			o.SetNamespace(namespace)
		}
		if err := moveSubjects(o, namespace); err != nil {
			return nil, err
		}
		l := o.GetLabels()
		if l == nil {
			l = map[string]string{}
		}
		for k, v := range labels {
			l[k] = v
		}
		o.SetLabels(l)
	}
	return objs, nil
}

// moveSubjects points a binding's subjects in the base namespace to
// namespace.
func moveSubjects(o *unstructured.Unstructured, namespace string) error {
	subjects, ok, err := unstructured.NestedSlice(o.Object, "subjects")
	if err != nil {
		return fmt.Errorf("%s %s: subjects: %w", o.GetKind(), o.GetName(), err)
	}
	if !ok {
		return nil
	}
	for _, s := range subjects {
		if m, ok := s.(map[string]any); ok && m["namespace"] == baseNamespace {
			m["namespace"] = namespace
		}
	}
	return unstructured.SetNestedSlice(o.Object, subjects, "subjects")
}

// hasLabels reports whether o carries every one of labels.
func hasLabels(o *unstructured.Unstructured, labels map[string]string) bool {
	got := o.GetLabels()
	for k, v := range labels {
		if got[k] != v {
			return false
		}
	}
	return true
}

func describe(o *unstructured.Unstructured) string {
	return o.GetKind() + " " + manifests.Name(o)
}

func sortedDescriptions(objs []*unstructured.Unstructured) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = describe(o)
	}
	sort.Strings(out)
	return out
}

// LabelRun marks the objects churn run --kwok install created, with the run
// ID as value. It is deliberately not churn.dev/run: the run's teardown
// deletes everything carrying that label, namespaces and ClusterRoles
// included, and kwok must outlive that teardown, since it is what lets the
// run's pods on fake nodes finish terminating. Uninstall removes kwok last.
const LabelRun = "churn.dev/kwok-for-run"

// RunLabels are the labels of the kwok objects one run installs.
func RunLabels(runID string) map[string]string {
	return map[string]string{LabelRun: runID, "app.kubernetes.io/managed-by": "churn"}
}
