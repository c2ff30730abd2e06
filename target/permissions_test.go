package target

import (
	"context"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestCheckPermissionsListsEveryDenial(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview)
		attrs := r.Spec.ResourceAttributes
		// Deny node deletion and the scale subresource only.
		r.Status.Allowed = !(attrs.Resource == "nodes" && attrs.Verb == "delete") && attrs.Subresource != "scale"
		return true, r, nil
	})
	err := CheckPermissions(context.Background(), client, RunPermissions())
	if err == nil {
		t.Fatal("want an error naming the denied permissions")
	}
	for _, want := range []string{"delete nodes", "update deployments/scale.apps", "2 permission(s)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	client2 := fake.NewClientset()
	client2.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview)
		r.Status.Allowed = true
		return true, r, nil
	})
	if err := CheckPermissions(context.Background(), client2, RunPermissions()); err != nil {
		t.Errorf("all allowed: %v", err)
	}
}
