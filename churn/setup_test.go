package churn

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSetupCreatesExactlyTheWorkloadWithLabels(t *testing.T) {
	env := newTestEnv(t, testProfile(3, 2, 4, time.Minute))
	setup(t, env)
	ctx := context.Background()

	nsList, err := env.client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nsList.Items) != 3 {
		t.Fatalf("%d namespaces, want 3", len(nsList.Items))
	}
	for i, ns := range nsList.Items {
		if want := fmt.Sprintf("%s-%03d", testPrefix, i); ns.Name != want {
			t.Errorf("namespace %d is %s, want %s", i, ns.Name, want)
		}
		checkRunLabels(t, "namespace "+ns.Name, ns.Labels)
	}
	if got := env.engine.Namespaces(); len(got) != 3 || got[2] != testPrefix+"-002" {
		t.Errorf("Namespaces() = %v", got)
	}

	svcs, err := env.client.CoreV1().Services("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deps, err := env.client.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(svcs.Items) != 6 || len(deps.Items) != 6 {
		t.Fatalf("%d services and %d deployments, want 6 and 6", len(svcs.Items), len(deps.Items))
	}
	for _, s := range svcs.Items {
		checkRunLabels(t, "service "+s.Namespace+"/"+s.Name, s.Labels)
		if s.Spec.Selector[LabelApp] != s.Name || s.Spec.Type != corev1.ServiceTypeClusterIP || s.Spec.Ports[0].Port != 80 {
			t.Errorf("service %s/%s: %+v", s.Namespace, s.Name, s.Spec)
		}
	}
	for _, d := range deps.Items {
		ref := "deployment " + d.Namespace + "/" + d.Name
		checkRunLabels(t, ref, d.Labels)
		if !strings.HasPrefix(d.Name, "app-") || *d.Spec.Replicas != 4 {
			t.Errorf("%s: replicas %d", ref, *d.Spec.Replicas)
		}
		tpl := d.Spec.Template
		if tpl.Labels[LabelApp] != d.Name || tpl.Labels[LabelRun] != testRunID || d.Spec.Selector.MatchLabels[LabelApp] != d.Name {
			t.Errorf("%s: pod labels %v selector %v", ref, tpl.Labels, d.Spec.Selector.MatchLabels)
		}
		if tpl.Spec.NodeSelector["type"] != "kwok" || tpl.Spec.NodeSelector[LabelRun] != testRunID || len(tpl.Spec.Tolerations) != 1 ||
			tpl.Spec.Tolerations[0].Key != "kwok.x-k8s.io/node" || tpl.Spec.Tolerations[0].Effect != corev1.TaintEffectNoSchedule {
			t.Errorf("%s does not target the run's KWOK nodes only: %+v %+v", ref, tpl.Spec.NodeSelector, tpl.Spec.Tolerations)
		}
		if c := tpl.Spec.Containers[0]; c.Image != "registry.k8s.io/pause:3.10" || c.Resources.Requests.Cpu().String() != "10m" {
			t.Errorf("%s container %+v", ref, c)
		}
	}
}

func checkRunLabels(t *testing.T, what string, labels map[string]string) {
	t.Helper()
	if labels[LabelRun] != testRunID || labels[LabelManagedBy] != "churn" {
		t.Errorf("%s labels %v lack the run labels", what, labels)
	}
}

func TestSetupIsIdempotentForItsOwnObjects(t *testing.T) {
	env := newTestEnv(t, testProfile(2, 1, 4, time.Minute))
	setup(t, env)
	setup(t, env)
	deps, err := env.client.AppsV1().Deployments("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(deps.Items) != 2 {
		t.Errorf("%d deployments after two Setups, want 2", len(deps.Items))
	}
}

func TestSetupRefusesForeignObjects(t *testing.T) {
	env := newTestEnv(t, testProfile(3, 1, 4, time.Minute))
	foreign := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   testPrefix + "-001",
		Labels: map[string]string{"team": "payments"},
	}}
	ctx := context.Background()
	if _, err := env.client.CoreV1().Namespaces().Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := env.engine.Setup(ctx)
	if err == nil || !strings.Contains(err.Error(), "does not belong to run") || !strings.Contains(err.Error(), foreign.Name) {
		t.Fatalf("Setup over a foreign namespace = %v", err)
	}
	got, err := env.client.CoreV1().Namespaces().Get(ctx, foreign.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Labels) != 1 || got.Labels["team"] != "payments" {
		t.Errorf("foreign namespace was touched: %v", got.Labels)
	}
	deps, _ := env.client.AppsV1().Deployments(foreign.Name).List(ctx, metav1.ListOptions{})
	if len(deps.Items) != 0 {
		t.Errorf("Setup created %d deployments in a foreign namespace", len(deps.Items))
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	good := Config{Client: newTestEnv(t, testProfile(1, 1, 1, time.Minute)).client, Profile: testProfile(1, 1, 1, time.Minute), RunID: "r", Prefix: "churn-ab"}
	if _, err := New(good); err != nil {
		t.Fatalf("New(good) = %v", err)
	}
	for name, mutate := range map[string]func(*Config){
		"no client":    func(c *Config) { c.Client = nil },
		"no run id":    func(c *Config) { c.RunID = "" },
		"bad prefix":   func(c *Config) { c.Prefix = "Churn_X" },
		"long prefix":  func(c *Config) { c.Prefix = strings.Repeat("a", 60) },
		"bad profile":  func(c *Config) { c.Profile.Churn.MaxInFlight = 0 },
		"bad run id":   func(c *Config) { c.RunID = "has space" },
		"empty prefix": func(c *Config) { c.Prefix = "" },
	} {
		c := good
		mutate(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s: New accepted %+v", name, c)
		}
	}
}
