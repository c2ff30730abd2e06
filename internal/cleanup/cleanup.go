// Package cleanup deletes a run's objects of one resource type by label,
// fast enough for tens of thousands of objects on a remote cluster.
//
// One DELETE per object at client-go's default 5 requests/s took minutes for
// a thousand CiliumEndpoints, so Deleter issues one collection delete per
// namespace (the API server deletes the matching objects itself), and falls
// back to bounded parallel single deletes, each with the object's UID as a
// precondition, where the server does not serve deletecollection
// (namespaces, for one) or the user may not use it. Either way only objects carrying every run label are
// deleted: the collection delete's selector is built from those labels, and
// single deletes check them again on the listed object.
package cleanup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// Defaults.
const (
	// DefaultWorkers bounds concurrent delete requests: enough to hide
	// round trips, few enough not to crowd out other clients' requests in
	// the API server's priority-and-fairness queues.
	DefaultWorkers = 16
	// DefaultProgressEvery is how often a long delete prints where it is.
	DefaultProgressEvery = 5 * time.Second
	listPage             = 1000
)

// Deleter deletes labelled objects. Zero values get defaults.
type Deleter struct {
	Dynamic dynamic.Interface
	// Labels are the run's labels; every deleted object carries all of them.
	Labels map[string]string
	// Progress receives "teardown: ..." lines; nil discards them.
	Progress      io.Writer
	Workers       int
	ProgressEvery time.Duration
	// Now is the clock for progress lines; nil means time.Now.
	Now func() time.Time
}

// Result says what one DeleteLabelled call did.
type Result struct {
	Resource string
	// Matched is how many objects carried the run labels when listed.
	Matched    int
	Namespaces int
	// Collection is true when collection deletes did the work.
	Collection bool
	Took       time.Duration
}

// Options adjust one DeleteLabelled call.
type Options struct {
	// ExtraSelector narrows the run labels further (e.g. "mesh=true").
	ExtraSelector string
	// Delete is passed to every delete request.
	Delete metav1.DeleteOptions
}

// Selector returns the label selector for the run labels plus extra,
// refusing empty labels: an empty selector matches every object.
func Selector(runLabels map[string]string, extra string) (string, error) {
	if len(runLabels) == 0 {
		return "", errors.New("refusing to delete by empty run labels: that would select every object")
	}
	for k, v := range runLabels {
		if k == "" || v == "" {
			return "", fmt.Errorf("refusing to delete by run label %q=%q: key and value must be set", k, v)
		}
	}
	sel := labels.SelectorFromSet(runLabels).String()
	if extra != "" {
		if _, err := labels.Parse(extra); err != nil {
			return "", fmt.Errorf("extra selector %q: %w", extra, err)
		}
		sel += "," + extra
	}
	return sel, nil
}

func (d *Deleter) defaults() {
	if d.Workers <= 0 {
		d.Workers = DefaultWorkers
	}
	if d.ProgressEvery <= 0 {
		d.ProgressEvery = DefaultProgressEvery
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Progress == nil {
		d.Progress = io.Discard
	}
}

func (d *Deleter) printf(format string, args ...any) {
	_, _ = fmt.Fprintf(d.Progress, "teardown: "+format+"\n", args...)
}

// DeleteLabelled deletes every object of gvr (in all namespaces) that carries
// the run labels and matches opts.ExtraSelector. A resource the server does
// not serve counts as nothing to delete. It does not wait for finalizers.
func (d *Deleter) DeleteLabelled(ctx context.Context, gvr schema.GroupVersionResource, opts Options) (Result, error) {
	d.defaults()
	res := Result{Resource: gvr.Resource}
	start := d.Now()
	sel, err := Selector(d.Labels, opts.ExtraSelector)
	if err != nil {
		return res, err
	}
	items, err := d.list(ctx, gvr, sel)
	if err != nil || len(items) == 0 {
		return res, err
	}
	byNS := map[string][]unstructured.Unstructured{}
	for _, obj := range items {
		byNS[obj.GetNamespace()] = append(byNS[obj.GetNamespace()], obj)
	}
	res.Matched, res.Namespaces = len(items), len(byNS)
	where := ""
	if len(byNS) > 1 || (len(byNS) == 1 && items[0].GetNamespace() != "") {
		where = fmt.Sprintf(" in %d namespaces", len(byNS))
	}
	d.printf("deleting %d %s%s", len(items), gvr.Resource, where)

	// Namespaces serve no deletecollection: asking would be refused, by
	// RBAC before the server could say so.
	collection, err := false, error(nil)
	if gvr.Group != "" || gvr.Resource != "namespaces" {
		collection, err = d.deleteCollections(ctx, gvr, sel, byNS, opts.Delete)
	}
	if collection {
		res.Collection = true
	} else if err == nil {
		err = d.deleteEach(ctx, gvr, items, opts.Delete)
	}
	res.Took = d.Now().Sub(start)
	if err != nil {
		return res, fmt.Errorf("delete %s: %w", gvr.Resource, err)
	}
	d.printf("deleted %d %s in %s", len(items), gvr.Resource, res.Took.Round(100*time.Millisecond))
	return res, nil
}

// list pages through the labelled objects, keeping those that carry every
// run label (a server or fake that ignored the selector must never make us
// delete a stranger).
func (d *Deleter) list(ctx context.Context, gvr schema.GroupVersionResource, sel string) ([]unstructured.Unstructured, error) {
	var out []unstructured.Unstructured
	opts := metav1.ListOptions{LabelSelector: sel, Limit: listPage}
	for {
		page, err := d.Dynamic.Resource(gvr).List(ctx, opts)
		if isNotServed(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list %s %q: %w", gvr.Resource, sel, err)
		}
		for _, obj := range page.Items {
			if carries(obj.GetLabels(), d.Labels) {
				out = append(out, obj)
			}
		}
		if opts.Continue = page.GetContinue(); opts.Continue == "" {
			return out, nil
		}
	}
}

// deleteCollections sends one collection delete per namespace. It reports
// false (and no error) when the server does not support deletecollection
// for gvr, so the caller deletes one by one.
func (d *Deleter) deleteCollections(ctx context.Context, gvr schema.GroupVersionResource, sel string, byNS map[string][]unstructured.Unstructured, del metav1.DeleteOptions) (bool, error) {
	namespaces := make([]string, 0, len(byNS))
	for ns := range byNS {
		namespaces = append(namespaces, ns)
	}
	sort.Strings(namespaces)
	// One request first: if the server refuses the verb, nothing else was
	// sent and the fallback starts from a clean slate.
	if err := d.deleteCollection(ctx, gvr, namespaces[0], sel, del); err != nil {
		// Not served for this resource, or not granted to this user (a
		// least-privilege role may grant delete alone): one by one then.
		if apierrors.IsMethodNotSupported(err) || apierrors.IsForbidden(err) {
			return false, nil
		}
		return true, err
	}
	var done atomic.Int64
	done.Store(1)
	stop := d.progressLoop(func() string {
		return fmt.Sprintf("%s: %d of %d namespaces done", gvr.Resource, done.Load(), len(namespaces))
	})
	defer stop()
	err := Parallel(ctx, d.Workers, len(namespaces)-1, func(i int) error {
		err := d.deleteCollection(ctx, gvr, namespaces[i+1], sel, del)
		done.Add(1)
		return err
	})
	return true, err
}

func (d *Deleter) deleteCollection(ctx context.Context, gvr schema.GroupVersionResource, ns, sel string, del metav1.DeleteOptions) error {
	var rc dynamic.ResourceInterface = d.Dynamic.Resource(gvr)
	if ns != "" {
		rc = d.Dynamic.Resource(gvr).Namespace(ns)
	}
	err := rc.DeleteCollection(ctx, del, metav1.ListOptions{LabelSelector: sel})
	if err != nil && !apierrors.IsNotFound(err) {
		if ns != "" {
			return fmt.Errorf("deletecollection in namespace %s: %w", ns, err)
		}
		return fmt.Errorf("deletecollection: %w", err)
	}
	return nil
}

// deleteEach deletes the listed objects one by one, Workers at a time, each
// with its UID as a precondition so a namesake created since is spared.
func (d *Deleter) deleteEach(ctx context.Context, gvr schema.GroupVersionResource, items []unstructured.Unstructured, del metav1.DeleteOptions) error {
	var left atomic.Int64
	left.Store(int64(len(items)))
	stop := d.progressLoop(func() string {
		return fmt.Sprintf("%s: %d of %d left", gvr.Resource, left.Load(), len(items))
	})
	defer stop()
	return Parallel(ctx, d.Workers, len(items), func(i int) error {
		defer left.Add(-1)
		obj := &items[i]
		opts := del
		uid := obj.GetUID()
		if uid != "" {
			opts.Preconditions = &metav1.Preconditions{UID: &uid}
		}
		var rc dynamic.ResourceInterface = d.Dynamic.Resource(gvr)
		if ns := obj.GetNamespace(); ns != "" {
			rc = d.Dynamic.Resource(gvr).Namespace(ns)
		}
		err := rc.Delete(ctx, obj.GetName(), opts)
		if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			// Conflict: the UID precondition failed, so the object of that
			// name is no longer ours.
			return nil
		}
		return fmt.Errorf("%s %s: %w", gvr.Resource, qualified(obj), err)
	})
}

// progressLoop prints line() every ProgressEvery until stop is called.
func (d *Deleter) progressLoop(line func() string) (stop func()) {
	return Every(d.ProgressEvery, func() { d.printf("%s", line()) })
}

// Every calls fn every period until stop is called; stop waits for a call
// in progress to finish.
func Every(period time.Duration, fn func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fn()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// Parallel runs fn(0..n-1) on at most workers goroutines and joins the
// errors; it stops handing out work once ctx is done.
func Parallel(ctx context.Context, workers, n int, fn func(int) error) error {
	if n <= 0 {
		return nil
	}
	var (
		next atomic.Int64
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return joinCapped(errs)
}

// joinCapped joins errors, keeping the first few: a thousand identical
// "connection refused" lines help nobody.
func joinCapped(errs []error) error {
	const shown = 5
	if len(errs) <= shown {
		return errors.Join(errs...)
	}
	return fmt.Errorf("%w (and %d more errors)", errors.Join(errs[:shown]...), len(errs)-shown)
}

func carries(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func qualified(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return ns + "/" + obj.GetName()
	}
	return obj.GetName()
}

// isNotServed is true for a resource type the server does not serve (a CRD
// that is not installed answers 404 on list).
func isNotServed(err error) bool {
	if err == nil {
		return false
	}
	if apierrors.IsNotFound(err) {
		return true
	}
	var se apierrors.APIStatus
	return errors.As(err, &se) && se.Status().Code == 404
}
