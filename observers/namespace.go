package observers

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
)

// maxDNSLabel is the longest namespace name the API server accepts.
const maxDNSLabel = 63

// observerNamespace is the namespace an observer owns for one run, e.g.
// "churn-1a2b-probe": derived from the run ID so teardown by label and a
// human reading `kubectl get ns` both find it.
func observerNamespace(runID, suffix string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(runID) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	base := strings.Trim(b.String(), "-")
	if base == "" {
		base = "churn"
	}
	if max := maxDNSLabel - len(suffix) - 1; len(base) > max {
		base = strings.TrimRight(base[:max], "-")
	}
	return base + "-" + suffix
}

// runLabels turns the run label selector ("churn.dev/run=abc") into the
// labels objects carry.
func runLabels(selector string) (map[string]string, error) {
	if selector == "" {
		return nil, nil
	}
	set, err := labels.ConvertSelectorToLabelsMap(selector)
	if err != nil {
		return nil, fmt.Errorf("run label selector %q: %w", selector, err)
	}
	return set, nil
}

// ensureNamespace creates the observer's run-labelled namespace (or reuses
// it when a retry already made it).
func ensureNamespace(ctx context.Context, c kubernetes.Interface, name string, lbls map[string]string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls}}
	_, err := c.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}

// deleteNamespace starts deletion of the observer's namespace; the API
// server finishes it in the background.
func deleteNamespace(ctx context.Context, c kubernetes.Interface, name string) error {
	err := c.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	return nil
}
