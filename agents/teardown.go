package agents

import (
	"context"
	"errors"
	"fmt"
	"io"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/churn-dev/churn/agents/crds"
	"github.com/churn-dev/churn/internal/cleanup"
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
// refuses empty labels. Each kind goes in one collection delete per
// namespace (see internal/cleanup), with progress lines on progress.
func Teardown(ctx context.Context, cfg *rest.Config, runLabels map[string]string, logger *zap.Logger, progress io.Writer) error {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("dynamic client: %w", err)
	}
	return teardown(ctx, dyn, runLabels, logger, progress)
}

func teardown(ctx context.Context, dyn dynamic.Interface, runLabels map[string]string, logger *zap.Logger, progress io.Writer) error {
	if logger == nil {
		logger = zap.NewNop()
	}
	if _, err := cleanup.Selector(runLabels, ""); err != nil {
		return fmt.Errorf("mesh teardown: %w", err)
	}
	d := cleanup.Deleter{Dynamic: dyn, Labels: runLabels, Progress: progress}
	var errs []error
	for _, gvr := range teardownResources {
		res, err := d.DeleteLabelled(ctx, gvr, cleanup.Options{})
		if err != nil {
			errs = append(errs, err)
		}
		if res.Matched > 0 {
			logger.Info("deleted run objects", zap.String("resource", gvr.Resource), zap.Int("count", res.Matched), zap.Duration("took", res.Took))
		}
	}
	if _, err := d.DeleteLabelled(ctx, schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, cleanup.Options{ExtraSelector: meshSystemLabel + "=true"}); err != nil {
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
