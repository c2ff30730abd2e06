package kwok

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/churn-dev/churn/fakenodes"
	"github.com/churn-dev/churn/target"
	"github.com/churn-dev/churn/version"
)

var testLabels = map[string]string{LabelRun: "r1", "app.kubernetes.io/managed-by": "churn"}

func objectsOf(t *testing.T, ns string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := Objects(ns, testLabels)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func typed(t *testing.T, objs []*unstructured.Unstructured, kind, name string, into any) {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, into); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no %s %s", kind, name)
}

func TestObjectsMoveToTheNamespaceAndCarryTheLabels(t *testing.T) {
	objs := objectsOf(t, "kwok-here")
	kinds := map[string]bool{}
	for _, o := range objs {
		kinds[o.GetKind()] = true
		for k, v := range testLabels {
			if o.GetLabels()[k] != v {
				t.Errorf("%s lacks label %s=%s", describe(o), k, v)
			}
		}
		switch ns := o.GetNamespace(); {
		case o.GetKind() == "Role" || o.GetKind() == "RoleBinding":
			if ns != "kube-node-lease" {
				t.Errorf("%s: node leases live in kube-node-lease", describe(o))
			}
		case strings.HasPrefix(o.GetKind(), "Cluster"):
			if ns != "" {
				t.Errorf("%s is cluster-scoped", describe(o))
			}
		default:
			if ns != "kwok-here" {
				t.Errorf("%s not moved to kwok-here", describe(o))
			}
		}
		if subjects, ok, _ := unstructured.NestedSlice(o.Object, "subjects"); ok {
			for _, s := range subjects {
				if ns := s.(map[string]any)["namespace"]; ns != "kwok-here" {
					t.Errorf("%s: subject in %v, want kwok-here", describe(o), ns)
				}
			}
		}
	}
	for _, k := range []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ConfigMap", "Deployment"} {
		if !kinds[k] {
			t.Errorf("no %s in the kwok objects", k)
		}
	}
	// The controller's pods must not carry the labels: the run's
	// observers select the run's pods by label.
	var d appsv1.Deployment
	typed(t, objs, "Deployment", DeploymentName, &d)
	for k := range testLabels {
		if _, ok := d.Spec.Template.Labels[k]; ok {
			t.Errorf("pod template carries %s", k)
		}
	}
	// The base itself is untouched by an install elsewhere.
	again := objectsOf(t, DefaultNamespace)
	if again[0].GetNamespace() != DefaultNamespace {
		t.Errorf("Objects changed the embedded base: %s", describe(again[0]))
	}
}

func TestObjectsRefuseNoLabelsAndBadNamespaces(t *testing.T) {
	if _, err := Objects("kube-system", nil); err == nil {
		t.Error("no labels: want an error (Uninstall could not find the objects)")
	}
	if _, err := Objects("Not_A_Namespace", testLabels); err == nil {
		t.Error("invalid namespace: want an error")
	}
}

func TestDeploymentRunsThePinnedKwokOnFakeNodesOnly(t *testing.T) {
	objs := objectsOf(t, DefaultNamespace)
	var d appsv1.Deployment
	typed(t, objs, "Deployment", DeploymentName, &d)
	c := d.Spec.Template.Spec.Containers[0]
	if want := "registry.k8s.io/kwok/kwok:" + version.KWOK; c.Image != want {
		t.Errorf("image %s, want %s (version.KWOK, the kwok the local control plane builds)", c.Image, want)
	}
	for _, want := range []string{
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=" + fakenodes.KWOKAnnotationKey + "=" + fakenodes.KWOKAnnotationValue,
		"--config=/etc/kwok/" + configKey,
	} {
		if !slices.Contains(c.Args, want) {
			t.Errorf("args %v lack %s", c.Args, want)
		}
	}
	var mounted bool
	for _, m := range c.VolumeMounts {
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil && v.ConfigMap.Name == configMapName && m.MountPath == "/etc/kwok" {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Errorf("ConfigMap %s is not mounted at /etc/kwok", configMapName)
	}
	if d.Spec.Template.Spec.ServiceAccountName != "churn-kwok-controller" {
		t.Errorf("runs as %s", d.Spec.Template.Spec.ServiceAccountName)
	}
	// Fake nodes carry a NoSchedule taint: the controller must not
	// tolerate it, or it could land on a node only it keeps alive.
	for _, tol := range d.Spec.Template.Spec.Tolerations {
		if tol.Key == fakenodes.TaintKey || tol.Operator == "Exists" && tol.Key == "" {
			t.Errorf("toleration %+v lets kwok run on a fake node", tol)
		}
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas %v: two controllers would fight over every lease", d.Spec.Replicas)
	}
}

// Config is what deploy/local's kwok reads: worker counts and the stages.
func TestConfigHoldsOptionsAndStages(t *testing.T) {
	b, err := Config()
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	stages := map[string]bool{}
	for _, doc := range strings.Split(string(b), "\n---\n") {
		var obj struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Spec struct {
				ResourceRef struct {
					Kind string `json:"kind"`
				} `json:"resourceRef"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("document does not parse: %v\n%s", err, doc)
		}
		kinds = append(kinds, obj.Kind)
		if obj.Kind == "Stage" {
			if obj.APIVersion != "kwok.x-k8s.io/v1alpha1" || obj.Spec.ResourceRef.Kind == "" {
				t.Errorf("stage %s: %+v", obj.Metadata.Name, obj)
			}
			stages[obj.Metadata.Name] = true
		}
	}
	if kinds[0] != "KwokConfiguration" {
		t.Errorf("first document is %s, want the KwokConfiguration", kinds[0])
	}
	for _, want := range []string{"churn-node-initialize", "churn-node-heartbeat", "churn-pod-ready", "churn-pod-ready-again", "churn-pod-complete", "churn-pod-delete"} {
		if !stages[want] {
			t.Errorf("stage %s missing (have %v)", want, stages)
		}
	}
}

// resourceOf is the REST resource of each kind of the base.
var resourceOf = map[string]schema.GroupResource{
	"ServiceAccount":     {Resource: "serviceaccounts"},
	"ConfigMap":          {Resource: "configmaps"},
	"Deployment":         {Group: "apps", Resource: "deployments"},
	"ClusterRole":        {Group: "rbac.authorization.k8s.io", Resource: "clusterroles"},
	"ClusterRoleBinding": {Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"},
	"Role":               {Group: "rbac.authorization.k8s.io", Resource: "roles"},
	"RoleBinding":        {Group: "rbac.authorization.k8s.io", Resource: "rolebindings"},
}

// target.KWOKInstallPermissions is what installing these objects takes:
// get, create, patch and delete of each, and the rights their roles grant
// (RBAC refuses to create a role granting what its creator lacks).
func TestInstallPermissionsMatchTheObjects(t *testing.T) {
	const ns = "kwok-here"
	want := map[target.Permission]bool{}
	for _, o := range objectsOf(t, ns) {
		gr, ok := resourceOf[o.GetKind()]
		if !ok {
			t.Fatalf("kind %s has no resource here; add it, and to target.KWOKInstallPermissions", o.GetKind())
		}
		for _, v := range []string{"get", "create", "patch", "delete"} {
			want[target.Permission{Verb: v, Group: gr.Group, Resource: gr.Resource, Namespace: o.GetNamespace()}] = true
		}
		var rules []rbacv1.PolicyRule
		switch o.GetKind() {
		case "ClusterRole":
			var r rbacv1.ClusterRole
			typed(t, []*unstructured.Unstructured{o}, "ClusterRole", o.GetName(), &r)
			rules = r.Rules
		case "Role":
			var r rbacv1.Role
			typed(t, []*unstructured.Unstructured{o}, "Role", o.GetName(), &r)
			rules = r.Rules
		}
		for _, r := range rules {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					name, sub, _ := strings.Cut(res, "/")
					for _, v := range r.Verbs {
						want[target.Permission{Verb: v, Group: g, Resource: name, Subresource: sub, Namespace: o.GetNamespace()}] = true
					}
				}
			}
		}
	}
	got := map[target.Permission]bool{}
	for _, p := range target.KWOKInstallPermissions(ns) {
		got[p] = true
		if !want[p] {
			t.Errorf("KWOKInstallPermissions has %s, which installing kwok does not need", p)
		}
	}
	for p := range want {
		if !got[p] {
			t.Errorf("KWOKInstallPermissions lacks %s", p)
		}
	}
}

func TestRunLabelsAreNotTheRunsOwn(t *testing.T) {
	// churn.dev/run objects are swept by the run's teardown before kwok
	// has let the pods go; kwok's must carry a label of their own.
	l := RunLabels("abc")
	if l[LabelRun] != "abc" {
		t.Errorf("RunLabels = %v", l)
	}
	if _, ok := l["churn.dev/run"]; ok {
		t.Errorf("RunLabels %v carry churn.dev/run", l)
	}
}

func TestInstallRefusesObjectsItDidNotCreate(t *testing.T) {
	ctx := context.Background()
	foreign := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "churn-kwok-controller"}}
	env := newFakeCluster(t, foreign)
	err := install(ctx, env.applier, "kube-system", testLabels)
	if !errors.Is(err, ErrNotOurs) || !strings.Contains(err.Error(), "ClusterRole churn-kwok-controller") {
		t.Fatalf("install over a foreign ClusterRole: %v, want ErrNotOurs naming it", err)
	}
	if n := env.applies(); n != 0 {
		t.Errorf("%d objects applied before refusing", n)
	}
	// Uninstall leaves it too.
	if err := uninstall(ctx, env.applier, "kube-system", testLabels); err != nil {
		t.Fatal(err)
	}
	if _, err := env.get("ClusterRole", "", "churn-kwok-controller"); err != nil {
		t.Errorf("foreign ClusterRole deleted: %v", err)
	}
}

func TestInstallThenUninstallRemovesExactlyItsObjects(t *testing.T) {
	ctx := context.Background()
	// Another run's install of the same names must not be removed by this
	// one's uninstall, nor is anything else in the namespace.
	bystander := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "someone-else", Namespace: "kube-node-lease", Labels: testLabels}}
	env := newFakeCluster(t, bystander)
	if err := install(ctx, env.applier, "kube-system", testLabels); err != nil {
		t.Fatal(err)
	}
	objs := objectsOf(t, "kube-system")
	if n := env.applies(); n != len(objs) {
		t.Fatalf("%d applies, want one per object (%d)", n, len(objs))
	}
	for _, o := range objs {
		got, err := env.get(o.GetKind(), o.GetNamespace(), o.GetName())
		if err != nil {
			t.Fatalf("%s not installed: %v", describe(o), err)
		}
		if !hasLabels(got, testLabels) {
			t.Errorf("%s installed without the labels", describe(o))
		}
	}
	// Installing again (same labels) is not a conflict.
	if err := install(ctx, env.applier, "kube-system", testLabels); err != nil {
		t.Fatalf("second install: %v", err)
	}
	if err := uninstall(ctx, env.applier, "kube-system", map[string]string{LabelRun: "other-run"}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.get("Deployment", "kube-system", DeploymentName); err != nil {
		t.Fatalf("another run's uninstall removed this run's kwok: %v", err)
	}
	if err := uninstall(ctx, env.applier, "kube-system", testLabels); err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if _, err := env.get(o.GetKind(), o.GetNamespace(), o.GetName()); !apierrors.IsNotFound(err) {
			t.Errorf("%s left after uninstall: %v", describe(o), err)
		}
	}
	if _, err := env.get("Role", "kube-node-lease", "someone-else"); err != nil {
		t.Errorf("uninstall removed an object it did not install: %v", err)
	}
}
