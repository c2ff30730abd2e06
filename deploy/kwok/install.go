package kwok

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/churn-dev/churn/deploy/manifests"
)

// ErrNotOurs is returned by Install when an object it would apply already
// exists without the install's labels: a kwok applied by hand or by
// another run, which Install must neither take over nor, later, delete.
var ErrNotOurs = errors.New("kwok objects already exist and were not created by this install")

// Install server-side applies Objects(namespace, labels) into the cluster
// with field manager "churn". The namespace must exist. It refuses (with
// ErrNotOurs, before applying anything) when any of the objects already
// exists without labels.
func Install(ctx context.Context, cfg *rest.Config, namespace string, labels map[string]string) error {
	a, err := manifests.NewApplier(cfg)
	if err != nil {
		return err
	}
	return install(ctx, a, namespace, labels)
}

func install(ctx context.Context, a *manifests.Applier, namespace string, labels map[string]string) error {
	objs, err := Objects(namespace, labels)
	if err != nil {
		return err
	}
	var foreign []string
	for _, o := range objs {
		c, err := a.Client(o)
		if err != nil {
			return fmt.Errorf("install kwok: %w", err)
		}
		got, err := c.Get(ctx, o.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("install kwok: get %s: %w", describe(o), err)
		}
		if !hasLabels(got, labels) {
			foreign = append(foreign, describe(o))
		}
	}
	if len(foreign) > 0 {
		return fmt.Errorf("%w: %s (a kwok controller is probably installed already: use --kwok external, or remove it with kubectl delete -k deploy/kwok)",
			ErrNotOurs, strings.Join(foreign, ", "))
	}
	for _, o := range objs {
		if _, err := a.Apply(ctx, o, manifests.ApplyOptions{FieldManager: FieldManager}); err != nil {
			return fmt.Errorf("install kwok: %w", err)
		}
	}
	return nil
}

// Uninstall deletes what Install(namespace, labels) created: each of the
// objects that still exists and carries labels. Objects without them are
// left alone, whoever made them.
func Uninstall(ctx context.Context, cfg *rest.Config, namespace string, labels map[string]string) error {
	a, err := manifests.NewApplier(cfg)
	if err != nil {
		return err
	}
	return uninstall(ctx, a, namespace, labels)
}

func uninstall(ctx context.Context, a *manifests.Applier, namespace string, labels map[string]string) error {
	objs, err := Objects(namespace, labels)
	if err != nil {
		return err
	}
	var errs []error
	// Reverse order: the controller goes before the rights it runs with.
	for i := len(objs) - 1; i >= 0; i-- {
		o := objs[i]
		c, err := a.Client(o)
		if err != nil {
			errs = append(errs, fmt.Errorf("uninstall kwok: %w", err))
			continue
		}
		got, err := c.Get(ctx, o.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("uninstall kwok: get %s: %w", describe(o), err))
			continue
		}
		if !hasLabels(got, labels) {
			continue
		}
		uid := got.GetUID()
		background := metav1.DeletePropagationBackground
		err = c.Delete(ctx, o.GetName(), metav1.DeleteOptions{
			Preconditions:     &metav1.Preconditions{UID: &uid},
			PropagationPolicy: &background,
		})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("uninstall kwok: delete %s: %w", describe(o), err))
		}
	}
	return errors.Join(errs...)
}
