package manifests

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Applier applies objects of any kind the server serves, found through
// discovery.
type Applier struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

// NewApplier builds an Applier for cfg.
func NewApplier(cfg *rest.Config) (*Applier, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	return NewApplierFor(dyn, dc), nil
}

// NewApplierFor builds an Applier on given clients (fakes in tests).
func NewApplierFor(dyn dynamic.Interface, dc discovery.DiscoveryInterface) *Applier {
	return &Applier{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}
}

// Reset forgets the discovered kinds, so kinds of CRDs created since are
// found.
func (a *Applier) Reset() { a.mapper.Reset() }

// Mapping returns the REST mapping of obj's kind.
func (a *Applier) Mapping(obj *unstructured.Unstructured) (*meta.RESTMapping, error) {
	gvk := obj.GroupVersionKind()
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("%s %s: kind not served: %w", gvk.Kind, obj.GetName(), err)
	}
	return m, nil
}

// Client returns the dynamic client of obj's kind, in obj's namespace when
// the kind is namespaced. A namespaced object without a namespace is an
// error: the loader's objects never rely on a default namespace.
func (a *Applier) Client(obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	m, err := a.Mapping(obj)
	if err != nil {
		return nil, err
	}
	res := a.dyn.Resource(m.Resource)
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		return res, nil
	}
	if obj.GetNamespace() == "" {
		return nil, fmt.Errorf("%s %s: namespaced kind without metadata.namespace", obj.GetKind(), obj.GetName())
	}
	return res.Namespace(obj.GetNamespace()), nil
}

// ApplyOptions configure one server-side apply.
type ApplyOptions struct {
	// FieldManager owns the applied fields (required).
	FieldManager string
	// DryRun asks the server to validate and admit the object without
	// persisting it (DryRun=All).
	DryRun bool
	// Force takes over fields another manager owns.
	Force bool
}

// Apply server-side applies obj and returns what the server holds (or
// would hold, with DryRun).
func (a *Applier) Apply(ctx context.Context, obj *unstructured.Unstructured, o ApplyOptions) (*unstructured.Unstructured, error) {
	if o.FieldManager == "" {
		return nil, fmt.Errorf("apply %s %s: a field manager is required", obj.GetKind(), obj.GetName())
	}
	c, err := a.Client(obj)
	if err != nil {
		return nil, err
	}
	opts := metav1.ApplyOptions{FieldManager: o.FieldManager, Force: o.Force}
	if o.DryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	got, err := c.Apply(ctx, obj.GetName(), obj, opts)
	if err != nil {
		return nil, fmt.Errorf("apply %s %s: %w", obj.GetKind(), Name(obj), err)
	}
	return got, nil
}

// Name is namespace/name, or name for a cluster-scoped object.
func Name(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return ns + "/" + obj.GetName()
	}
	return obj.GetName()
}
