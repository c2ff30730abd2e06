package kwok

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// waitInterval is how often WaitAvailable looks at the Deployment.
const waitInterval = 2 * time.Second

// WaitAvailable waits until the kwok controller Deployment in namespace has
// an available replica. On timeout the error says why its pods are not
// running (an image that cannot be pulled, say), read from their container
// statuses, because fake nodes would otherwise just never turn Ready.
func WaitAvailable(ctx context.Context, client kubernetes.Interface, namespace string, timeout time.Duration) error {
	err := wait.PollUntilContextTimeout(ctx, waitInterval, timeout, true, func(ctx context.Context) (bool, error) {
		d, err := client.AppsV1().Deployments(namespace).Get(ctx, DeploymentName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("get Deployment %s/%s: %w", namespace, DeploymentName, err)
		}
		return d.Status.AvailableReplicas > 0, nil
	})
	if err == nil {
		return nil
	}
	return fmt.Errorf("kwok controller Deployment %s/%s not available after %s%s: %w",
		namespace, DeploymentName, timeout, podProblems(context.WithoutCancel(ctx), client, namespace), err)
}

// podProblems describes why the controller's pods are not running, or
// returns "" when nothing can be said.
func podProblems(ctx context.Context, client kubernetes.Interface, namespace string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	d, err := client.AppsV1().Deployments(namespace).Get(ctx, DeploymentName, metav1.GetOptions{})
	if err != nil || d.Spec.Selector == nil {
		return ""
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return ""
	}
	pods, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return ""
	}
	if len(pods.Items) == 0 {
		return " (no pods: see kubectl -n " + namespace + " describe deployment " + DeploymentName + ")"
	}
	var problems []string
	for _, p := range pods.Items {
		var why []string
		for _, c := range p.Status.Conditions {
			if c.Type == "PodScheduled" && c.Status != "True" && c.Message != "" {
				why = append(why, "unschedulable: "+c.Message)
			}
		}
		for _, cs := range p.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil && w.Reason != "" {
				why = append(why, strings.TrimSpace(w.Reason+" "+w.Message))
			}
			if t := cs.LastTerminationState.Terminated; t != nil {
				why = append(why, fmt.Sprintf("last exit %d %s", t.ExitCode, t.Reason))
			}
		}
		if len(why) == 0 {
			why = append(why, string(p.Status.Phase))
		}
		problems = append(problems, p.Name+": "+strings.Join(why, "; "))
	}
	sort.Strings(problems)
	return " (" + strings.Join(problems, ", ") + ")"
}
