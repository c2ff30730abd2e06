package target

import (
	"context"
	"errors"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestInClusterOutsideAPodFails(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	tg, err := InCluster()
	if err == nil {
		t.Fatalf("InCluster outside a pod = %+v, want an error", tg)
	}
	if !strings.Contains(err.Error(), "--in-cluster") {
		t.Errorf("error %q does not name --in-cluster", err)
	}
}

func TestInClusterTargetIsRemoteAndNeedsOptIn(t *testing.T) {
	tg := &Target{Kind: KindInCluster, Server: "https://10.96.0.1:443"}
	if !tg.Remote() {
		t.Error("an in-cluster target must count as remote (plan, permission check)")
	}
	if err := tg.CheckAllowed(false); !errors.Is(err, ErrRemoteNotAllowed) {
		t.Errorf("in-cluster without --allow-remote: got %v, want ErrRemoteNotAllowed", err)
	}
	if err := tg.CheckAllowed(true); err != nil {
		t.Errorf("in-cluster with --allow-remote: %v", err)
	}
	if (&Target{Kind: KindLocal}).Remote() {
		t.Error("the local control plane is not remote")
	}
}

// The review must carry the namespace and name of a scoped permission:
// a user with rights in one namespace only, or on named groups only,
// passes exactly those checks.
func TestCheckPermissionsScopesReviews(t *testing.T) {
	client := fake.NewClientset()
	var seen []authorizationv1.ResourceAttributes
	client.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview)
		attrs := *r.Spec.ResourceAttributes
		seen = append(seen, attrs)
		// Allowed only in kube-system, and impersonation of one group.
		r.Status.Allowed = attrs.Namespace == "kube-system" || (attrs.Resource == "groups" && attrs.Name == "system:authenticated")
		return true, r, nil
	})
	perms := []Permission{
		{Verb: "create", Group: "apps", Resource: "deployments", Namespace: "kube-system"},
		{Verb: "create", Group: "apps", Resource: "deployments"},
		{Verb: "impersonate", Resource: "groups", Name: "system:authenticated"},
		{Verb: "impersonate", Resource: "groups", Name: "system:masters"},
	}
	missing, err := MissingPermissions(context.Background(), client, perms)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) != 2 || missing[0] != perms[1] || missing[1] != perms[3] {
		t.Fatalf("missing = %v, want the cluster-wide create and system:masters", missing)
	}
	if seen[0].Namespace != "kube-system" || seen[2].Name != "system:authenticated" {
		t.Errorf("reviews did not carry namespace and name: %+v", seen)
	}
	if got, want := perms[0].String(), "create deployments.apps in namespace kube-system"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := perms[3].String(), "impersonate groups system:masters"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestKWOKInstallPermissionsAreScoped(t *testing.T) {
	byNS := map[string]int{}
	for _, p := range KWOKInstallPermissions("kwok-here") {
		byNS[p.Namespace]++
		if p.Resource == "deployments" && p.Namespace != "kwok-here" {
			t.Errorf("%s: the kwok Deployment lives in the install namespace", p)
		}
		if p.Resource == "leases" && p.Namespace != "kube-node-lease" {
			t.Errorf("%s: node leases are only in kube-node-lease", p)
		}
		if strings.Contains(p.Resource, "/") {
			t.Errorf("%s: subresource left in the resource", p)
		}
		if p.Verb == "*" || p.Resource == "*" {
			t.Errorf("%s: wildcard", p)
		}
	}
	if byNS["kwok-here"] == 0 || byNS["kube-node-lease"] == 0 || byNS[""] == 0 {
		t.Errorf("permissions per namespace = %v, want the install namespace, kube-node-lease and cluster-wide ones", byNS)
	}
}
