package kwok

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func controllerDeployment(available int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: DeploymentName, Namespace: "kube-system"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{
			MatchLabels: map[string]string{"app.kubernetes.io/name": "churn-kwok-controller"},
		}},
		Status: appsv1.DeploymentStatus{AvailableReplicas: available},
	}
}

func TestWaitAvailableReturnsOnceAReplicaIsAvailable(t *testing.T) {
	client := fake.NewClientset(controllerDeployment(1))
	if err := WaitAvailable(context.Background(), client, "kube-system", time.Minute); err != nil {
		t.Fatal(err)
	}
}

func TestWaitAvailableSaysWhyThePodDoesNotRun(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "churn-kwok-controller-abc", Namespace: "kube-system",
			Labels: map[string]string{"app.kubernetes.io/name": "churn-kwok-controller"}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
			Name:  "kwok",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "no route to registry.k8s.io"}},
		}}},
	}
	other := pod.DeepCopy()
	other.Name, other.Labels = "unrelated", map[string]string{"app": "x"}
	client := fake.NewClientset(controllerDeployment(0), pod, other)
	// The first look finds nothing available; the timeout ends the wait.
	err := WaitAvailable(context.Background(), client, "kube-system", time.Millisecond)
	if err == nil {
		t.Fatal("want an error: no replica is available")
	}
	for _, want := range []string{DeploymentName, "churn-kwok-controller-abc", "ImagePullBackOff", "no route to registry.k8s.io"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "unrelated") {
		t.Errorf("error %q describes a pod that is not the controller's", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap the timeout", err)
	}
}
