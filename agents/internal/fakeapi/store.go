package fakeapi

import (
	"fmt"
	"sort"
	"strconv"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
)

// Resource registers one collection.
type Resource struct {
	GVR        schema.GroupVersionResource
	Kind       string
	Namespaced bool
	// Typed kinds are in client-go's scheme and can be served as protobuf.
	Typed bool
}

// BuiltinResources are the core kinds the emulated components watch.
func BuiltinResources() []Resource {
	core := func(res, kind string, ns bool) Resource {
		return Resource{GVR: schema.GroupVersionResource{Version: "v1", Resource: res}, Kind: kind, Namespaced: ns, Typed: true}
	}
	return []Resource{
		core("pods", "Pod", true),
		core("namespaces", "Namespace", false),
		core("nodes", "Node", false),
		core("services", "Service", true),
		core("configmaps", "ConfigMap", true),
		core("secrets", "Secret", true),
		{GVR: schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}, Kind: "EndpointSlice", Namespaced: true, Typed: true},
		{GVR: schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}, Kind: "NetworkPolicy", Namespaced: true, Typed: true},
		{GVR: schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}, Kind: "Lease", Namespaced: true, Typed: true},
		{GVR: schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}, Kind: "CustomResourceDefinition"},
	}
}

type objKey struct{ ns, name string }

type event struct {
	typ  string // ADDED, MODIFIED, DELETED
	rv   int64
	obj  runtime.Object
	prev runtime.Object // the object before a MODIFIED
}

type collection struct {
	Resource
	objects  map[objKey]runtime.Object
	history  []event
	watchers map[*watcher]struct{}
}

// store is the server's state; one mutex guards everything.
type store struct {
	mu          sync.Mutex
	rv          int64
	compactedRV int64
	uid         int64
	colls       map[schema.GroupVersionResource]*collection
}

func (s *store) coll(gvr schema.GroupVersionResource) (*collection, error) {
	c := s.colls[gvr]
	if c == nil {
		return nil, fmt.Errorf("resource %s not served", gvr)
	}
	return c, nil
}

func keyOf(obj runtime.Object) objKey {
	m, err := meta.Accessor(obj)
	if err != nil {
		return objKey{}
	}
	return objKey{m.GetNamespace(), m.GetName()}
}

// commit stamps obj with a new resourceVersion, stores it and notifies
// watchers. Callers hold s.mu.
func (s *store) commit(c *collection, typ string, obj, prev runtime.Object) {
	s.rv++
	m, _ := meta.Accessor(obj)
	m.SetResourceVersion(strconv.FormatInt(s.rv, 10))
	k := keyOf(obj)
	if typ == "DELETED" {
		delete(c.objects, k)
	} else {
		c.objects[k] = obj
	}
	ev := event{typ: typ, rv: s.rv, obj: obj, prev: prev}
	c.history = append(c.history, ev)
	for w := range c.watchers {
		w.send(ev)
	}
}

func (s *store) nextUID() types.UID {
	s.uid++
	return types.UID(fmt.Sprintf("00000000-0000-0000-0000-%012d", s.uid))
}

// sortedObjects returns the collection's objects ordered by namespace/name,
// as etcd returns them.
func (c *collection) sortedObjects() []runtime.Object {
	keys := make([]objKey, 0, len(c.objects))
	for k := range c.objects {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].ns != keys[j].ns {
			return keys[i].ns < keys[j].ns
		}
		return keys[i].name < keys[j].name
	})
	out := make([]runtime.Object, len(keys))
	for i, k := range keys {
		out[i] = c.objects[k]
	}
	return out
}

// newObject returns an empty object of the collection's kind.
func (c *collection) newObject() runtime.Object {
	if c.Typed {
		gvk := c.GVR.GroupVersion().WithKind(c.Kind)
		if obj, err := scheme.Scheme.New(gvk); err == nil {
			return obj
		}
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(c.GVR.GroupVersion().WithKind(c.Kind))
	return u
}
