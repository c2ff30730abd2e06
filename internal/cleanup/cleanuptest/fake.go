// Package cleanuptest gives client-go's fake dynamic client the
// deletecollection behaviour of a real API server, for tests of code that
// deletes by label.
package cleanuptest

import (
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"
)

// Counts are the delete requests the fake has served.
type Counts struct {
	Collections, Singles int
}

// ServeDeleteCollection makes dyn delete the objects matching a
// deletecollection's label selector (the stock fake has no reaction for the
// verb), except for resources in refuse, which answer 405 Method Not Allowed
// as namespaces do on a real server. The resources' list kinds must be
// registered with the fake as "List" (NewSimpleDynamicClientWithCustomListKinds)
// or under their own kind. The returned counts are updated as requests
// arrive; the fake serialises reactions, so reading them after the calls
// return is safe.
func ServeDeleteCollection(dyn *dynamicfake.FakeDynamicClient, refuse map[string]bool) *Counts {
	c := &Counts{}
	dyn.PrependReactor("delete-collection", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		dc := a.(clienttesting.DeleteCollectionAction)
		gvr := dc.GetResource()
		if refuse[gvr.Resource] {
			return true, nil, apierrors.NewMethodNotSupported(gvr.GroupResource(), "deletecollection")
		}
		c.Collections++
		sel, err := labels.Parse(dc.GetListRestrictions().Labels.String())
		if err != nil {
			return true, nil, err
		}
		// The tracker appends "List" to the kind it is given.
		list, err := dyn.Tracker().List(gvr, schema.GroupVersionKind{Group: gvr.Group, Version: gvr.Version}, dc.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		items, ok := list.(*unstructured.UnstructuredList)
		if !ok {
			return true, nil, nil
		}
		for _, it := range items.Items {
			if sel.Matches(labels.Set(it.GetLabels())) {
				if err := dyn.Tracker().Delete(gvr, it.GetNamespace(), it.GetName()); err != nil {
					return true, nil, err
				}
			}
		}
		return true, nil, nil
	})
	dyn.PrependReactor("delete", "*", func(clienttesting.Action) (bool, runtime.Object, error) {
		c.Singles++
		return false, nil, nil
	})
	return c
}
