package target

import (
	"context"
	"fmt"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Permission is one (verb, group, resource) a run needs: cluster-wide, or
// in Namespace when set, and on any object, or on the one named Name.
type Permission struct {
	Verb, Group, Resource, Subresource string
	Namespace, Name                    string
}

func (p Permission) String() string {
	r := p.Resource
	if p.Subresource != "" {
		r += "/" + p.Subresource
	}
	if p.Group != "" {
		r += "." + p.Group
	}
	s := p.Verb + " " + r
	if p.Name != "" {
		s += " " + p.Name
	}
	if p.Namespace != "" {
		s += " in namespace " + p.Namespace
	}
	return s
}

// RunPermissions are what churn run needs on a cluster: the fake nodes, the
// workload in its own namespaces, the scale subresource, the observers'
// config maps and watches, and reads of the API server's health and metrics.
func RunPermissions() []Permission {
	var ps []Permission
	add := func(group, resource string, verbs ...string) {
		for _, v := range verbs {
			ps = append(ps, Permission{Verb: v, Group: group, Resource: resource})
		}
	}
	// Teardown removes the fake nodes with one delete-collection call.
	// The fake-nodes-healthy check watches the fake nodes and their
	// Leases (kwok's renewals).
	add("", "nodes", "create", "get", "list", "watch", "delete", "deletecollection")
	add("coordination.k8s.io", "leases", "list", "watch")
	add("", "namespaces", "create", "get", "list", "watch", "patch", "delete")
	// Teardown deletes services one by one (they serve no
	// deletecollection), then deployments, replica sets and pods with one
	// delete-collection call each per namespace.
	add("", "services", "create", "get", "list", "delete")
	add("apps", "deployments", "create", "get", "list", "watch", "deletecollection")
	add("apps", "replicasets", "deletecollection")
	ps = append(ps, Permission{Verb: "update", Group: "apps", Resource: "deployments", Subresource: "scale"})
	add("", "pods", "get", "list", "watch", "deletecollection")
	// watch-propagation merge-patches its config map.
	add("", "configmaps", "create", "get", "list", "watch", "update", "patch", "delete", "deletecollection")
	return ps
}

// MissingPermissions asks the API server (SelfSubjectAccessReview) about
// each permission and returns the ones denied, so a run fails before it
// creates anything rather than half-way through setup.
func MissingPermissions(ctx context.Context, client kubernetes.Interface, perms []Permission) ([]Permission, error) {
	var missing []Permission
	for _, p := range perms {
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: p.Verb, Group: p.Group, Resource: p.Resource, Subresource: p.Subresource,
				Namespace: p.Namespace, Name: p.Name,
			},
		}}
		res, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("check permission %s: %w", p, err)
		}
		if !res.Status.Allowed {
			missing = append(missing, p)
		}
	}
	return missing, nil
}

// CheckPermissions returns an error listing every missing permission.
func CheckPermissions(ctx context.Context, client kubernetes.Interface, perms []Permission) error {
	missing, err := MissingPermissions(ctx, client, perms)
	if err != nil {
		return err
	}
	if len(missing) == 0 {
		return nil
	}
	names := make([]string, len(missing))
	for i, p := range missing {
		names[i] = p.String()
	}
	return fmt.Errorf("the user churn runs as lacks %d permission(s) churn run needs: %s", len(missing), strings.Join(names, ", "))
}

// MeshPermissions are the extra permissions of the mesh emulation, with
// churn's own credentials: its CRDs, a ClusterRole and binding per
// component, impersonating each component's service account, the
// CiliumNetworkPolicy per namespace, and teardown of the custom resources
// the components wrote. (Creating a component's ClusterRole also needs
// every right it grants, which RBAC checks when it is created.)
func MeshPermissions() []Permission {
	var ps []Permission
	add := func(group, resource string, verbs ...string) {
		for _, v := range verbs {
			ps = append(ps, Permission{Verb: v, Group: group, Resource: resource})
		}
	}
	add("apiextensions.k8s.io", "customresourcedefinitions", "create", "get", "list", "delete")
	add("rbac.authorization.k8s.io", "clusterroles", "create", "list", "delete", "deletecollection")
	add("rbac.authorization.k8s.io", "clusterrolebindings", "create", "list", "delete", "deletecollection")
	add("", "serviceaccounts", "impersonate")
	// The groups of a service account, as its token would carry them; the
	// emulated accounts live in kube-system (Cilium) and istio-system.
	for _, g := range meshImpersonatedGroups() {
		ps = append(ps, Permission{Verb: "impersonate", Resource: "groups", Name: g})
	}
	add("cilium.io", "ciliumnetworkpolicies", "create")
	for _, r := range []string{"ciliumendpointslices", "ciliumendpoints", "ciliumidentities", "ciliumnodes", "ciliumnetworkpolicies"} {
		add("cilium.io", r, "list", "delete", "deletecollection")
	}
	return ps
}

// meshImpersonatedGroups are the groups the emulated components'
// impersonated service accounts carry.
func meshImpersonatedGroups() []string {
	return []string{
		"system:authenticated",
		"system:serviceaccounts",
		"system:serviceaccounts:istio-system",
		"system:serviceaccounts:kube-system",
	}
}

// KWOKInstallPermissions are what churn run --kwok install needs to
// install the kwok controller (deploy/kwok) into namespace and remove it:
// get (to refuse taking over someone else's), create and patch (server-side
// apply) and delete of each of its objects, and every right its roles
// grant, which RBAC requires of whoever creates them.
func KWOKInstallPermissions(namespace string) []Permission {
	var ps []Permission
	add := func(ns, group, resource string, verbs ...string) {
		for _, v := range verbs {
			sub := ""
			if i := strings.IndexByte(resource, '/'); i >= 0 {
				resource, sub = resource[:i], resource[i+1:]
			}
			ps = append(ps, Permission{Verb: v, Group: group, Resource: resource, Subresource: sub, Namespace: ns})
		}
	}
	const rbac, nodeLease = "rbac.authorization.k8s.io", "kube-node-lease"
	manage := []string{"get", "create", "patch", "delete"}
	add(namespace, "", "serviceaccounts", manage...)
	add(namespace, "", "configmaps", manage...)
	add(namespace, "apps", "deployments", manage...)
	add("", rbac, "clusterroles", manage...)
	add("", rbac, "clusterrolebindings", manage...)
	add(nodeLease, rbac, "roles", manage...)
	add(nodeLease, rbac, "rolebindings", manage...)
	// The kwok controller's own rights (deploy/kwok/rbac.yaml).
	add("", "", "nodes", "list", "watch")
	add("", "", "nodes/status", "patch")
	add("", "", "pods", "list", "watch", "delete")
	add("", "", "pods/status", "patch")
	add("", "", "events", "create", "patch")
	add(nodeLease, "coordination.k8s.io", "leases", "list", "watch", "create", "update")
	return ps
}
