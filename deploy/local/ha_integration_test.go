package local_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/internal/testenv"
	"github.com/churn-dev/churn/version"
)

// servingVersion asks one API server, not the load balancer, for its
// release.
func servingVersion(t *testing.T, cfg *rest.Config, url string) string {
	t.Helper()
	c := rest.CopyConfig(cfg)
	c.Host = url
	dc, err := discovery.NewDiscoveryClientForConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	v, err := dc.ServerVersion()
	if err != nil {
		t.Fatalf("version of %s: %v", url, err)
	}
	return v.GitVersion
}

// Two API servers of the older release behind HAProxy: clients write
// through the load balancer while the second is replaced by the newer
// release, and each server's serving version is read before and after.
func TestIntegrationHAControlPlaneReplaceAPIServer(t *testing.T) {
	bin := testenv.RequireUpgrade(t)
	ctx := context.Background()
	c := testenv.StartCluster(ctx, t, local.Options{BinDir: bin, APIServers: 2, KubernetesVersion: testenv.UpgradeFrom})
	eps := c.APIServerEndpoints()
	if len(eps) != 2 || eps[1].Name != "kube-apiserver-2" {
		t.Fatalf("endpoints = %+v, want two API servers", eps)
	}
	cfg := c.RESTConfig()
	if cfg.Host == eps[0].URL || cfg.Host == eps[1].URL {
		t.Fatalf("clients talk to %s, an API server, not the load balancer", cfg.Host)
	}
	names := map[string]bool{}
	for _, p := range c.Processes() {
		names[p.Name] = true
	}
	if !names[local.LoadBalancer] || !names["kube-apiserver-2"] {
		t.Fatalf("processes = %v, want haproxy and kube-apiserver-2", c.Processes())
	}
	for _, ep := range eps {
		if v := servingVersion(t, cfg, ep.URL); v != testenv.UpgradeFrom {
			t.Fatalf("%s serves %s before the upgrade, want %s", ep.Name, v, testenv.UpgradeFrom)
		}
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Write through the load balancer the whole time the server is replaced.
	writeCtx, stopWrites := context.WithCancel(ctx)
	failures := make(chan error, 1000)
	done := make(chan int)
	go func() {
		n := 0
		for writeCtx.Err() == nil {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ha-%d", n)}}
			if _, err := client.CoreV1().Namespaces().Create(writeCtx, ns, metav1.CreateOptions{}); err != nil && writeCtx.Err() == nil {
				failures <- err
			}
			n++
			time.Sleep(50 * time.Millisecond)
		}
		done <- n
	}()
	stopped := false
	if err := c.Replace(ctx, "kube-apiserver-2", version.Kubernetes, func() { stopped = true }); err != nil {
		t.Fatalf("Replace: %v", err)
	}
	if err := c.WaitBalanced(ctx, "kube-apiserver-2"); err != nil {
		t.Fatal(err)
	}
	stopWrites()
	writes := <-done
	close(failures)
	for err := range failures {
		t.Errorf("a write through the load balancer failed while kube-apiserver-2 was replaced: %v", err)
	}
	if !stopped || writes < 10 {
		t.Errorf("stopped %v, %d writes", stopped, writes)
	}
	if v := servingVersion(t, cfg, eps[1].URL); v != version.Kubernetes {
		t.Errorf("kube-apiserver-2 serves %s after the replacement, want %s", v, version.Kubernetes)
	}
	if v := servingVersion(t, cfg, eps[0].URL); v != testenv.UpgradeFrom {
		t.Errorf("kube-apiserver serves %s, want it untouched at %s", v, testenv.UpgradeFrom)
	}
}
