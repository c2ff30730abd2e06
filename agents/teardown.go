package agents

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/churn-dev/churn/agents/crds"
)

// teardownResources are what the emulated meshes create, deleted by label
// before the CRDs (a pre-existing CRD keeps everything but the run's).
var teardownResources = []schema.GroupVersionResource{
	{Group: "cilium.io", Version: "v2alpha1", Resource: "ciliumendpointslices"},
	{Group: "cilium.io", Version: "v2", Resource: "ciliumendpoints"},
	{Group: "cilium.io", Version: "v2", Resource: "ciliumidentities"},
	{Group: "cilium.io", Version: "v2", Resource: "ciliumnodes"},
	crds.CiliumNetworkPolicies,
	{Version: "v1", Resource: "configmaps"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"},
}

// Teardown deletes what a run's meshes created, selected by runLabels and
// nothing else: CiliumEndpointSlices, CiliumEndpoints, CiliumIdentities,
// CiliumNodes, CiliumNetworkPolicies, istio-ca-root-cert ConfigMaps, the
// RBAC objects, the mesh namespace and the CRDs the run installed. It
// refuses empty labels.
func Teardown(ctx context.Context, cfg *rest.Config, runLabels map[string]string, logger *zap.Logger) error {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("dynamic client: %w", err)
	}
	return teardown(ctx, dyn, runLabels, logger)
}

func teardown(ctx context.Context, dyn dynamic.Interface, runLabels map[string]string, logger *zap.Logger) error {
	if logger == nil {
		logger = zap.NewNop()
	}
	sel, err := labelSelector(runLabels)
	if err != nil {
		return err
	}
	var errs []error
	for _, gvr := range teardownResources {
		n, err := deleteLabelled(ctx, dyn, gvr, sel, runLabels)
		if err != nil {
			errs = append(errs, err)
		}
		if n > 0 {
			logger.Info("deleted run objects", zap.String("resource", gvr.Resource), zap.Int("count", n))
		}
	}
	nsSel := sel + "," + meshSystemLabel + "=true"
	if _, err := deleteLabelled(ctx, dyn, schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, nsSel, runLabels); err != nil {
		errs = append(errs, err)
	}
	deleted, err := crds.Delete(ctx, dyn, runLabels)
	if err != nil {
		errs = append(errs, err)
	}
	if len(deleted) > 0 {
		logger.Info("deleted run CRDs", zap.Int("count", len(deleted)))
	}
	return errors.Join(errs...)
}

// deleteLabelled deletes every object of gvr matching sel (in all
// namespaces); a resource the cluster does not serve is skipped.
func deleteLabelled(ctx context.Context, dyn dynamic.Interface, gvr schema.GroupVersionResource, sel string, runLabels map[string]string) (int, error) {
	list, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if apierrors.IsNotFound(err) || meta404(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("list %s: %w", gvr.Resource, err)
	}
	n := 0
	var errs []error
	for i := range list.Items {
		obj := &list.Items[i]
		labels := obj.GetLabels()
		mine := true
		for k, v := range runLabels {
			if labels[k] != v {
				mine = false
			}
		}
		if !mine { // belt and braces over the selector
			continue
		}
		var rc dynamic.ResourceInterface = dyn.Resource(gvr)
		if ns := obj.GetNamespace(); ns != "" {
			rc = dyn.Resource(gvr).Namespace(ns)
		}
		if err := rc.Delete(ctx, obj.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s %s: %w", gvr.Resource, obj.GetName(), err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// meta404 catches "the server could not find the requested resource" for
// kinds whose CRD is not installed.
func meta404(err error) bool {
	var se apierrors.APIStatus
	return errors.As(err, &se) && se.Status().Code == 404
}
