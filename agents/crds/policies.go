package crds

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// CiliumNetworkPolicies is cilium.io/v2 ciliumnetworkpolicies.
var CiliumNetworkPolicies = schema.GroupVersionResource{Group: "cilium.io", Version: "v2", Resource: "ciliumnetworkpolicies"}

// PolicyName is the name of the per-namespace policy.
const PolicyName = "churn-http"

// CreatePolicies creates one CiliumNetworkPolicy with HTTP rules in each
// namespace, as the public test did (an L7 rule puts every pod of the
// namespace behind the proxy). Existing policies of that name are left
// alone.
func CreatePolicies(ctx context.Context, dyn dynamic.Interface, namespaces []string, runLabels map[string]string) error {
	if _, err := selectorFor(runLabels); err != nil {
		return err
	}
	var errs []error
	for _, ns := range namespaces {
		_, err := dyn.Resource(CiliumNetworkPolicies).Namespace(ns).Create(ctx, Policy(ns, runLabels), metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			errs = append(errs, fmt.Errorf("create CiliumNetworkPolicy %s/%s: %w", ns, PolicyName, err))
		}
	}
	return errors.Join(errs...)
}

// Policy is the per-namespace CiliumNetworkPolicy: every endpoint of the
// namespace accepts HTTP GET and POST on port 80 from the same namespace.
func Policy(ns string, runLabels map[string]string) *unstructured.Unstructured {
	labels := map[string]any{}
	for k, v := range runLabels {
		labels[k] = v
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cilium.io/v2",
		"kind":       "CiliumNetworkPolicy",
		"metadata":   map[string]any{"name": PolicyName, "namespace": ns, "labels": labels},
		"spec": map[string]any{
			"endpointSelector": map[string]any{},
			"ingress": []any{map[string]any{
				"fromEndpoints": []any{map[string]any{"matchLabels": map[string]any{"k8s:io.kubernetes.pod.namespace": ns}}},
				"toPorts": []any{map[string]any{
					"ports": []any{map[string]any{"port": "80", "protocol": "TCP"}},
					"rules": map[string]any{"http": []any{
						map[string]any{"method": "GET", "path": "/.*"},
						map[string]any{"method": "POST", "path": "/api/.*"},
					}},
				}},
			}},
		},
	}}
}
