package target

import (
	"context"
	"fmt"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Permission is one (verb, group, resource) a run needs cluster-wide.
type Permission struct {
	Verb, Group, Resource, Subresource string
}

func (p Permission) String() string {
	r := p.Resource
	if p.Subresource != "" {
		r += "/" + p.Subresource
	}
	if p.Group != "" {
		r += "." + p.Group
	}
	return p.Verb + " " + r
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
	add("", "nodes", "create", "get", "list", "delete")
	add("", "namespaces", "create", "get", "list", "watch", "patch", "delete")
	add("", "services", "create", "get", "list")
	add("apps", "deployments", "create", "get", "list", "watch")
	ps = append(ps, Permission{Verb: "update", Group: "apps", Resource: "deployments", Subresource: "scale"})
	add("", "pods", "get", "list", "watch")
	add("", "configmaps", "create", "get", "list", "watch", "update", "delete")
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
	return fmt.Errorf("the kubeconfig's user lacks %d permission(s) churn run needs: %s", len(missing), strings.Join(names, ", "))
}

// MeshPermissions are the extra permissions of the mesh emulation: its CRDs
// and the custom resources its components write.
func MeshPermissions() []Permission {
	var ps []Permission
	for _, v := range []string{"create", "get", "list", "delete"} {
		ps = append(ps, Permission{Verb: v, Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"})
	}
	return ps
}
