package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/churn-dev/churn/agents"
	"github.com/churn-dev/churn/churn"
	"github.com/churn-dev/churn/deploy/kwok"
	"github.com/churn-dev/churn/fakenodes"
)

// RemoveOptions say whose objects RemoveRunObjects deletes, and where.
type RemoveOptions struct {
	// Config should carry no client-side rate limit: teardown is
	// thousands of requests.
	Config   *rest.Config
	Client   kubernetes.Interface
	RunLabel string
	// Mesh also removes what an emulated mesh wrote; KWOK the kwok
	// controller churn installed.
	Mesh, KWOK bool
	Progress   io.Writer
	Logger     *zap.Logger
}

// RemoveRunObjects deletes everything labelled churn.dev/run=RunLabel, step
// by step, printing each step's time so a slow teardown says where it is
// slow. It is the run's own teardown and churn cleanup's.
func RemoveRunObjects(ctx context.Context, o RemoveOptions) error {
	if o.RunLabel == "" {
		return errors.New("remove run objects: no run label: that would select everything")
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	start := time.Now()
	var errs []error
	step := func(what string, fn func() error) {
		t := time.Now()
		err := fn()
		errs = append(errs, err)
		status := "done"
		if err != nil {
			status = "failed"
		}
		fmt.Fprintf(o.Progress, "teardown: %s %s in %s\n", what, status, time.Since(t).Round(100*time.Millisecond))
	}
	if o.Mesh {
		step("mesh objects", func() error {
			return agents.Teardown(ctx, o.Config, churn.RunLabels(o.RunLabel), o.Logger, o.Progress)
		})
	}
	step("workload namespaces", func() error { return churn.Teardown(ctx, o.Client, o.RunLabel, o.Progress) })
	step("fake nodes", func() error { return fakenodes.Delete(ctx, o.Client, churn.RunSelector(o.RunLabel), o.Progress) })
	if o.KWOK {
		step("kwok", func() error {
			if err := kwok.Uninstall(ctx, o.Config, kwok.DefaultNamespace, kwok.RunLabels(o.RunLabel)); err != nil {
				return err
			}
			fmt.Fprintf(o.Progress, "removed the kwok controller from %s\n", kwok.DefaultNamespace)
			return nil
		})
	}
	fmt.Fprintf(o.Progress, "teardown: run objects removed in %s\n", time.Since(start).Round(100*time.Millisecond))
	return errors.Join(errs...)
}

// RunObjects counts what one run left on a cluster.
type RunObjects struct {
	RunLabel   string
	Namespaces int
	Nodes      int
}

// ListRunObjects finds the runs whose namespaces or fake nodes are on the
// cluster, by the churn.dev/run label.
func ListRunObjects(ctx context.Context, client kubernetes.Interface) ([]RunObjects, error) {
	byRun := map[string]*RunObjects{}
	get := func(id string) *RunObjects {
		if byRun[id] == nil {
			byRun[id] = &RunObjects{RunLabel: id}
		}
		return byRun[id]
	}
	opts := metav1.ListOptions{LabelSelector: churn.LabelRun}
	nss, err := client.CoreV1().Namespaces().List(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("list namespaces with label %s: %w", churn.LabelRun, err)
	}
	for _, ns := range nss.Items {
		get(ns.Labels[churn.LabelRun]).Namespaces++
	}
	nodes, err := client.CoreV1().Nodes().List(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("list nodes with label %s: %w", churn.LabelRun, err)
	}
	for _, n := range nodes.Items {
		get(n.Labels[churn.LabelRun]).Nodes++
	}
	out := make([]RunObjects, 0, len(byRun))
	for _, r := range byRun {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RunLabel < out[j].RunLabel })
	return out, nil
}

// CleanupTarget resolves a --kubeconfig for churn cleanup with the same
// remote opt-in as a run, and a client without a client-side rate limit.
func CleanupTarget(kubeconfig, kubeContext string, allowRemote bool) (*rest.Config, kubernetes.Interface, error) {
	t, err := remoteTarget(Options{Kubeconfig: kubeconfig, Context: kubeContext, AllowRemote: allowRemote})
	if err != nil {
		return nil, nil, err
	}
	cfg := rest.CopyConfig(t.Config)
	cfg.QPS, cfg.Burst = 1000, 2000
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("client for %s: %w", t.Server, err)
	}
	return cfg, client, nil
}
