package churn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"syscall"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/churn-dev/churn/results"
)

// scale does what the public test's scaler did (GET the deployment, then
// `kubectl scale`): it reads the current desired count, then writes the
// scale subresource. The update carries no resourceVersion, so it is
// unconditional like kubectl's, and the deployment controller's status
// writes between the two calls cannot turn it into a conflict.
func (e *Engine) scale(ctx context.Context, namespace, name string, to int) (from int, err error) {
	deployments := e.client.AppsV1().Deployments(namespace)
	d, err := deployments.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("get deployment %s/%s: %w", namespace, name, err)
	}
	if d.Labels[LabelRun] != e.runID {
		return 0, fmt.Errorf("deployment %s/%s does not carry %s=%s; refusing to scale it", namespace, name, LabelRun, e.runID)
	}
	if d.Spec.Replicas != nil {
		from = int(*d.Spec.Replicas)
	} else {
		from = 1 // the API server's default
	}
	scale := &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec:       autoscalingv1.ScaleSpec{Replicas: int32(to)},
	}
	if _, err := deployments.UpdateScale(ctx, name, scale, metav1.UpdateOptions{}); err != nil {
		return from, fmt.Errorf("scale deployment %s/%s from %d to %d: %w", namespace, name, from, to, err)
	}
	return from, nil
}

// relabel sets churn.dev/generation on a namespace with a merge patch, as
// `kubectl label --overwrite` does. Each value is new, so each relabel gives
// the namespace a label set nobody has seen (for Cilium, a new identity).
func (e *Engine) relabel(ctx context.Context, namespace string, generation int) error {
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, LabelGeneration, strconv.Itoa(generation))
	_, err := e.client.CoreV1().Namespaces().Patch(ctx, namespace, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("relabel namespace %s to %s=%d: %w", namespace, LabelGeneration, generation, err)
	}
	return nil
}

// classify names the class of an action's error for the accounting.
func classify(err error) string {
	var status apierrors.APIStatus
	var netErr net.Error
	switch {
	case err == nil:
		return results.ResultOK
	case apierrors.IsConflict(err):
		return results.ResultConflict
	case apierrors.IsTooManyRequests(err):
		return results.ResultThrottled
	case apierrors.IsTimeout(err), apierrors.IsServerTimeout(err), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return results.ResultTimeout
	case errors.Is(err, context.Canceled):
		return results.ResultCanceled
	case errors.As(err, &status) && status.Status().Code >= 500:
		return results.ResultServerError
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return results.ResultUnreachable
	default:
		return results.ResultOther
	}
}
