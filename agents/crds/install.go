package crds

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// CRDResource is apiextensions.k8s.io/v1 customresourcedefinitions.
var CRDResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// DefaultEstablishTimeout bounds the wait for the API server to serve new CRDs.
const DefaultEstablishTimeout = 2 * time.Minute

// Installed reports what InstallCRDs found and did.
type Installed struct {
	// Created are the CRDs this run created (they carry the run labels).
	Created []string
	// Existing were already there and are left untouched.
	Existing []string
	// Unserved are kinds whose pre-existing CRD does not serve the version
	// the emulation uses; watches of them must be dropped.
	Unserved []Kind
}

// InstallCRDs creates the CRDs mesh needs, and those of extraSets, and
// waits until they are served. A CRD that already exists is never modified
// (and never deleted later): only CRDs created here carry runLabels, and
// teardown selects on them.
func InstallCRDs(ctx context.Context, cfg *rest.Config, mesh string, extraSets []string, runLabels map[string]string) (*Installed, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	return Install(ctx, dyn, append(SetsForMesh(mesh), extraSets...), runLabels, DefaultEstablishTimeout)
}

// Install is InstallCRDs on a given client and set list.
func Install(ctx context.Context, dyn dynamic.Interface, sets []string, runLabels map[string]string, timeout time.Duration) (*Installed, error) {
	if _, err := selectorFor(runLabels); err != nil {
		return nil, err
	}
	res := &Installed{}
	var names []string
	client := dyn.Resource(CRDResource)
	for _, set := range sets {
		objs, err := Manifests(set)
		if err != nil {
			return nil, err
		}
		for _, crd := range objs {
			k, err := kindOf(crd)
			if err != nil {
				return nil, err
			}
			names = append(names, crd.GetName())
			existing, err := client.Get(ctx, crd.GetName(), metav1.GetOptions{})
			switch {
			case err == nil:
				res.Existing = append(res.Existing, crd.GetName())
				if !contains(servedVersions(existing), k.Version) {
					res.Unserved = append(res.Unserved, k)
				}
				continue
			case !apierrors.IsNotFound(err):
				return res, fmt.Errorf("get CRD %s: %w", crd.GetName(), err)
			}
			obj := crd.DeepCopy()
			labels := obj.GetLabels()
			if labels == nil {
				labels = map[string]string{}
			}
			for k, v := range runLabels {
				labels[k] = v
			}
			obj.SetLabels(labels)
			if _, err := client.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
				if apierrors.IsAlreadyExists(err) {
					res.Existing = append(res.Existing, crd.GetName())
					continue
				}
				return res, fmt.Errorf("create CRD %s: %w", crd.GetName(), err)
			}
			res.Created = append(res.Created, crd.GetName())
		}
	}
	if err := waitEstablished(ctx, client, names, timeout); err != nil {
		return res, err
	}
	return res, nil
}

func waitEstablished(ctx context.Context, client dynamic.NamespaceableResourceInterface, names []string, timeout time.Duration) error {
	pending := map[string]bool{}
	for _, n := range names {
		pending[n] = true
	}
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		for n := range pending {
			obj, err := client.Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) {
					continue
				}
				return false, fmt.Errorf("get CRD %s: %w", n, err)
			}
			if established(obj) {
				delete(pending, n)
			}
		}
		return len(pending) == 0, nil
	})
	if err != nil {
		left := make([]string, 0, len(pending))
		for n := range pending {
			left = append(left, n)
		}
		sort.Strings(left)
		return fmt.Errorf("CRDs not established: %v: %w", left, err)
	}
	return nil
}

func established(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		cm, ok := c.(map[string]any)
		if ok && cm["type"] == "Established" && cm["status"] == "True" {
			return true
		}
	}
	return false
}

// Delete removes the CRDs that carry runLabels (and so were created by
// that run), which also deletes every object of those kinds.
func Delete(ctx context.Context, dyn dynamic.Interface, runLabels map[string]string) ([]string, error) {
	sel, err := selectorFor(runLabels)
	if err != nil {
		return nil, err
	}
	client := dyn.Resource(CRDResource)
	list, err := client.List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("list run CRDs: %w", err)
	}
	var deleted []string
	var errs []error
	for i := range list.Items {
		crd := &list.Items[i]
		if !hasLabels(crd, runLabels) { // belt and braces over the selector
			continue
		}
		uid := crd.GetUID()
		err := client.Delete(ctx, crd.GetName(), metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete CRD %s: %w", crd.GetName(), err))
			continue
		}
		deleted = append(deleted, crd.GetName())
	}
	if err := waitGone(ctx, client, deleted); err != nil {
		errs = append(errs, err)
	}
	return deleted, errors.Join(errs...)
}

// waitGone waits until the deleted CRDs are gone: the API server first
// deletes every object of the kind, and a CRD still terminating would make
// the next run's install see it as someone else's.
func waitGone(ctx context.Context, client dynamic.NamespaceableResourceInterface, names []string) error {
	if len(names) == 0 {
		return nil
	}
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, DefaultEstablishTimeout, true, func(ctx context.Context) (bool, error) {
		for _, n := range names {
			_, err := client.Get(ctx, n, metav1.GetOptions{})
			if err == nil {
				return false, nil
			}
			if !apierrors.IsNotFound(err) {
				return false, fmt.Errorf("get CRD %s: %w", n, err)
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for run CRDs to be deleted: %w", err)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
