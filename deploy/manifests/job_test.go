package manifests_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/churn-dev/churn/agents"
	"github.com/churn-dev/churn/deploy/kwok"
	"github.com/churn-dev/churn/deploy/manifests"
	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/runner"
	"github.com/churn-dev/churn/target"
)

const (
	jobDir     = "../job"
	jobMeshDir = "../job/mesh"
	jobNS      = "churn"
	jobSA      = "churn"
)

// nonResourceGrants are the non-resource URLs the run's role may read: the
// API server's metrics and health, which the observers read.
var nonResourceGrants = []string{"/metrics", "/readyz", "/livez"}

func load(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := manifests.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string, into any) {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, into); err != nil {
				t.Fatalf("%s %s: %v", kind, name, err)
			}
			return
		}
	}
	t.Fatalf("no %s %s", kind, name)
}

// boundRules returns the rules of the ClusterRole name, after checking that
// a ClusterRoleBinding of the same name binds it to the Job's account.
func boundRules(t *testing.T, objs []*unstructured.Unstructured, name string) []rbacv1.PolicyRule {
	t.Helper()
	var role rbacv1.ClusterRole
	find(t, objs, "ClusterRole", name, &role)
	var b rbacv1.ClusterRoleBinding
	find(t, objs, "ClusterRoleBinding", name, &b)
	if b.RoleRef.Kind != "ClusterRole" || b.RoleRef.Name != name {
		t.Errorf("ClusterRoleBinding %s refers to %s %s", name, b.RoleRef.Kind, b.RoleRef.Name)
	}
	if len(b.Subjects) != 1 || b.Subjects[0].Kind != "ServiceAccount" || b.Subjects[0].Namespace != jobNS || b.Subjects[0].Name != jobSA {
		t.Errorf("ClusterRoleBinding %s binds %+v, want only ServiceAccount %s/%s", name, b.Subjects, jobNS, jobSA)
	}
	return role.Rules
}

// grant is one (verb, group, resource[/subresource], name) a rule allows;
// name "" is any object.
type grant struct{ verb, group, resource, name string }

func (g grant) String() string {
	s := g.verb + " " + g.resource
	if g.group != "" {
		s += "." + g.group
	}
	if g.name != "" {
		s += " " + g.name
	}
	return s
}

func grantOf(p target.Permission) grant {
	r := p.Resource
	if p.Subresource != "" {
		r += "/" + p.Subresource
	}
	return grant{p.Verb, p.Group, r, p.Name}
}

// expand lists what rules allow on resources, refusing wildcards, and
// checks the non-resource rules against allowedURLs.
func expand(t *testing.T, role string, rules []rbacv1.PolicyRule, allowedURLs []string) []grant {
	t.Helper()
	var out []grant
	for _, r := range rules {
		for _, list := range [][]string{r.Verbs, r.APIGroups, r.Resources, r.NonResourceURLs} {
			for _, v := range list {
				if strings.Contains(v, "*") {
					t.Errorf("%s: wildcard %q in %+v", role, v, r)
				}
			}
		}
		if len(r.NonResourceURLs) > 0 {
			for _, u := range r.NonResourceURLs {
				if !slices.Contains(allowedURLs, u) {
					t.Errorf("%s: non-resource URL %s is not one churn reads", role, u)
				}
			}
			if !slices.Equal(r.Verbs, []string{"get"}) {
				t.Errorf("%s: non-resource verbs %v, want only get", role, r.Verbs)
			}
			continue
		}
		names := r.ResourceNames
		if len(names) == 0 {
			names = []string{""}
		}
		for _, v := range r.Verbs {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					for _, n := range names {
						out = append(out, grant{v, g, res, n})
					}
				}
			}
		}
	}
	return out
}

// allows reports whether grants allow p: same verb, group and resource,
// on any object or on p's.
func allows(grants []grant, p grant) bool {
	for _, g := range grants {
		if g.verb == p.verb && g.group == p.group && g.resource == p.resource && (g.name == "" || g.name == p.name) {
			return true
		}
	}
	return false
}

// needed reports whether g is what some required permission asks for:
// a grant on any object is needed only for a permission on any object.
func needed(required []grant, g grant) bool {
	for _, p := range required {
		if g.verb == p.verb && g.group == p.group && g.resource == p.resource && (g.name == p.name || p.name == "") {
			return true
		}
	}
	return false
}

// checkExact fails on every required permission the grants lack and
// every grant nothing requires.
func checkExact(t *testing.T, role string, grants, required []grant) {
	t.Helper()
	for _, p := range required {
		if !allows(grants, p) {
			t.Errorf("%s does not grant %s", role, p)
		}
	}
	for _, g := range grants {
		if !needed(required, g) {
			t.Errorf("%s grants %s, which churn does not need", role, g)
		}
	}
}

func grants(ps []target.Permission) []grant {
	out := make([]grant, len(ps))
	for i, p := range ps {
		out[i] = grantOf(p)
	}
	return out
}

// meshComponentGrants are the rules the mesh emulation's ClusterRoles give
// its components (agents/rbac.go builds them from the same fields): the
// Job's account must hold them to create those roles.
func meshComponentGrants(t *testing.T) []grant {
	t.Helper()
	var out []grant
	for _, name := range agents.Meshes() {
		spec, err := agents.Spec(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range spec.Components {
			for _, w := range c.Watches {
				for _, v := range []string{"get", "list", "watch"} {
					out = append(out, grant{v, w.Group, w.Resource, ""})
				}
			}
			for _, r := range c.Writes {
				for _, res := range r.Resources {
					for _, v := range r.Verbs {
						out = append(out, grant{v, r.Group, res, ""})
					}
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no mesh component rules found")
	}
	return out
}

// Each component impersonates a service account of its namespace, with
// the groups such an account's token carries (agents/rbac.go): the mesh
// permissions must name each group.
func TestMeshPermissionsImpersonateEveryComponentsGroups(t *testing.T) {
	named := map[string]bool{}
	for _, p := range target.MeshPermissions() {
		if p.Verb == "impersonate" && p.Resource == "groups" {
			named[p.Name] = true
		}
	}
	for _, name := range agents.Meshes() {
		spec, err := agents.Spec(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range spec.Components {
			for _, g := range []string{"system:authenticated", "system:serviceaccounts", "system:serviceaccounts:" + c.ServiceAccountNamespace} {
				if !named[g] {
					t.Errorf("%s/%s impersonates group %s, which MeshPermissions does not name", name, c.Name, g)
				}
			}
		}
	}
}

func jobSpec(t *testing.T) batchv1.Job {
	t.Helper()
	var job batchv1.Job
	find(t, load(t, jobDir), "Job", "churn", &job)
	return job
}

// flagValue returns the value of --name in args ("--name=v" or "--name v").
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
		if a == "--"+name {
			if i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
				return args[i+1], true
			}
			return "true", true
		}
	}
	return "", false
}

// runRequired is what the Job's run needs: the run, and kwok's install
// when its arguments ask for it.
func runRequired(t *testing.T) []target.Permission {
	t.Helper()
	job := jobSpec(t)
	perms := target.RunPermissions()
	if v, _ := flagValue(job.Spec.Template.Spec.Containers[0].Args, "kwok"); v == runner.KWOKInstall {
		perms = append(perms, target.KWOKInstallPermissions(kwok.DefaultNamespace)...)
	}
	return perms
}

// The run's ClusterRole grants exactly what churn run checks for, and
// nothing a run without a mesh does not need.
func TestJobRunRoleIsExactlyTheRunPermissions(t *testing.T) {
	rules := boundRules(t, load(t, jobDir), "churn-run")
	checkExact(t, "ClusterRole churn-run", expand(t, "churn-run", rules, nonResourceGrants), grants(runRequired(t)))
}

// With deploy/job/mesh the account also holds what the mesh emulation
// needs: its own calls and every right of its components' roles.
func TestJobMeshRoleCoversTheMeshEmulation(t *testing.T) {
	run := expand(t, "churn-run", boundRules(t, load(t, jobDir), "churn-run"), nonResourceGrants)
	mesh := expand(t, "churn-mesh", boundRules(t, load(t, jobMeshDir), "churn-mesh"), nil)
	required := append(grants(runRequired(t)), grants(target.MeshPermissions())...)
	required = append(required, meshComponentGrants(t)...)
	checkExact(t, "ClusterRoles churn-run and churn-mesh", append(run, mesh...), required)
	// The mesh role alone must not be needed for a run without a mesh.
	for _, g := range mesh {
		if g.verb == "impersonate" && allows(run, g) {
			t.Errorf("churn-run grants %s: impersonation belongs to the mesh role only", g)
		}
	}
}

func TestJobRunsTheProfileInCluster(t *testing.T) {
	objs := load(t, jobDir)
	job := jobSpec(t)
	pod := job.Spec.Template.Spec
	if job.Namespace != jobNS || pod.ServiceAccountName != jobSA {
		t.Errorf("Job in %s runs as %s, want %s/%s", job.Namespace, pod.ServiceAccountName, jobNS, jobSA)
	}
	var sa corev1.ServiceAccount
	find(t, objs, "ServiceAccount", jobSA, &sa)
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if len(c.Args) == 0 || c.Args[0] != "run" {
		t.Fatalf("args %v do not start with run", c.Args)
	}
	for _, f := range []string{"in-cluster", "allow-remote"} {
		if v, ok := flagValue(c.Args, f); !ok || v != "true" {
			t.Errorf("args %v lack --%s", c.Args, f)
		}
	}
	if v, _ := flagValue(c.Args, "kwok"); v != runner.KWOKExternal && v != runner.KWOKInstall {
		t.Errorf("--kwok %q", v)
	}
	profilePath, ok := flagValue(c.Args, "profile")
	if !ok {
		t.Fatalf("args %v lack --profile", c.Args)
	}
	// The profile file comes from the ConfigMap through a volume mount.
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	var profileCM corev1.ConfigMap
	found := false
	for name, m := range mounts {
		v := volumes[name]
		if v.ConfigMap == nil || filepath.Dir(profilePath) != m.MountPath {
			continue
		}
		find(t, objs, "ConfigMap", v.ConfigMap.Name, &profileCM)
		data, ok := profileCM.Data[filepath.Base(profilePath)]
		if !ok {
			t.Fatalf("ConfigMap %s has no key %s", v.ConfigMap.Name, filepath.Base(profilePath))
		}
		p, err := profiles.Decode([]byte(data))
		if err != nil {
			t.Fatalf("profile in ConfigMap %s: %v", v.ConfigMap.Name, err)
		}
		if err := p.ValidateWith(observers.Known); err != nil {
			t.Fatalf("profile in ConfigMap %s: %v", v.ConfigMap.Name, err)
		}
		found = true
	}
	if !found {
		t.Fatalf("no ConfigMap volume mounted at %s", filepath.Dir(profilePath))
	}
	// Results land on the volume: the working directory is its mount, as
	// --out defaults to a relative churn-results/<run-id>.
	if _, ok := flagValue(c.Args, "out"); ok {
		t.Errorf("--out set; results would not be per run on the volume")
	}
	var results *corev1.VolumeMount
	for name, m := range mounts {
		if v := volumes[name]; v.PersistentVolumeClaim != nil && m.MountPath == c.WorkingDir {
			results = &m
			var pvc corev1.PersistentVolumeClaim
			find(t, objs, "PersistentVolumeClaim", v.PersistentVolumeClaim.ClaimName, &pvc)
		}
	}
	if results == nil || results.ReadOnly {
		t.Errorf("working directory %q is not a writable volume of a PersistentVolumeClaim", c.WorkingDir)
	}
	sc, psc := c.SecurityContext, pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod security context %+v does not run as a non-root user", psc)
	}
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("container security context %+v: want a read-only root file system and no privilege escalation", sc)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v: want a CPU request and a memory limit", c.Resources)
	}
	if job.Spec.BackoffLimit == nil || *job.Spec.BackoffLimit != 0 {
		t.Errorf("backoffLimit %v: a breached SLO must not be retried", job.Spec.BackoffLimit)
	}
}
