package agents

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// meshSystemLabel marks the run's mesh namespace (leases live there), so
// teardown can tell it from the run's workload namespaces.
const meshSystemLabel = "churn.dev/mesh-system"

// serviceAccount is the account a component impersonates: its real name
// suffixed with the run, in the real namespace (kube-system for Cilium, so
// APF puts it in the same flow schema as the real DaemonSet).
func serviceAccount(c ComponentSpec, runID string) (ns, name string) {
	return c.ServiceAccountNamespace, sanitizeName(c.ServiceAccountName + "-churn-" + runID)
}

func impersonation(c ComponentSpec, runID string) rest.ImpersonationConfig {
	ns, name := serviceAccount(c, runID)
	return rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + ns + ":" + name,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
	}
}

// rules are the RBAC rules a component needs: list/watch of every watched
// resource plus its writes.
func rules(c ComponentSpec) []rbacv1.PolicyRule {
	verbs := map[string]map[string]map[string]bool{} // group -> resource -> verbs
	add := func(group, res string, vs ...string) {
		if verbs[group] == nil {
			verbs[group] = map[string]map[string]bool{}
		}
		if verbs[group][res] == nil {
			verbs[group][res] = map[string]bool{}
		}
		for _, v := range vs {
			verbs[group][res][v] = true
		}
	}
	for _, w := range c.Watches {
		add(w.Group, w.Resource, "get", "list", "watch")
	}
	for _, r := range c.Writes {
		for _, res := range r.Resources {
			add(r.Group, res, r.Verbs...)
		}
	}
	var out []rbacv1.PolicyRule
	groups := make([]string, 0, len(verbs))
	for g := range verbs {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	for _, g := range groups {
		resources := make([]string, 0, len(verbs[g]))
		for r := range verbs[g] {
			resources = append(resources, r)
		}
		sort.Strings(resources)
		for _, r := range resources {
			vs := make([]string, 0, len(verbs[g][r]))
			for v := range verbs[g][r] {
				vs = append(vs, v)
			}
			sort.Strings(vs)
			out = append(out, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: []string{r}, Verbs: vs})
		}
	}
	return out
}

// setupRBAC creates a run-labelled ClusterRole and ClusterRoleBinding per
// component for its impersonated account.
// extra gives a component's additional rules (its stand-ins').
func setupRBAC(ctx context.Context, kc kubernetes.Interface, spec *MeshSpec, runID string, runLabels map[string]string, extra func(component string) []rbacv1.PolicyRule) error {
	for _, c := range spec.Components {
		name := sanitizeName("churn-" + runID + "-" + c.Name)
		role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: runLabels}, Rules: append(rules(c), extra(c.Name)...)}
		if _, err := kc.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create ClusterRole %s: %w", name, err)
		}
		ns, sa := serviceAccount(c, runID)
		binding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: runLabels},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: ns, Name: sa}},
		}
		if _, err := kc.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create ClusterRoleBinding %s: %w", name, err)
		}
	}
	return nil
}

// ensureSystemNamespace creates the run's mesh namespace.
func ensureSystemNamespace(ctx context.Context, kc kubernetes.Interface, name string, runLabels map[string]string) error {
	labels := map[string]string{meshSystemLabel: "true"}
	for k, v := range runLabels {
		labels[k] = v
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	// A namespace of a previous mesh of this run may still be terminating:
	// wait for it to go, since nothing can be created in it.
	return wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := kc.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
		if err == nil {
			return true, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return false, fmt.Errorf("create namespace %s: %w", name, err)
		}
		got, err := kc.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("get namespace %s: %w", name, err)
		}
		for k, v := range runLabels {
			if got.Labels[k] != v {
				return false, fmt.Errorf("namespace %s exists and does not belong to this run", name)
			}
		}
		return got.DeletionTimestamp == nil, nil
	})
}

func systemNamespaceName(runID string) string { return sanitizeName("churn-mesh-" + runID) }
