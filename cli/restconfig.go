package cli

import (
	"errors"
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/churn-dev/churn/target"
)

// clusterRESTConfig resolves how a command reaches an existing cluster:
// the pod's own service account (inCluster), or a kubeconfig (path, else
// $KUBECONFIG or ~/.kube/config) with an optional context.
func clusterRESTConfig(kubeconfig, context string, inCluster bool) (*rest.Config, error) {
	if inCluster {
		if kubeconfig != "" || context != "" {
			return nil, errors.New("--in-cluster uses the pod's service account: drop --kubeconfig and --context")
		}
		t, err := target.InCluster()
		if err != nil {
			return nil, err
		}
		return t.Config, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		if kubeconfig == "" {
			return nil, fmt.Errorf("no cluster given (--kubeconfig, $KUBECONFIG, ~/.kube/config or --in-cluster): %w", err)
		}
		return nil, fmt.Errorf("load --kubeconfig %s: %w", kubeconfig, err)
	}
	return cfg, nil
}
