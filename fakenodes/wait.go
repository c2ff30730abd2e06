package fakenodes

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// pollInterval of WaitReady and Delete. Each poll is one LIST served from
// the API server's watch cache (resourceVersion=0), cheap next to the
// load being measured.
const (
	pollInterval        = 2 * time.Second
	deleteProgressEvery = 10 * time.Second
)

// notReadyShown is how many not-Ready node names an error lists.
const notReadyShown = 5

// WaitReady polls until at least want nodes matching selector are Ready,
// printing "nodes ready N/want" lines to progress. When ctx ends first the
// error says how many are Ready and names the first few that are not.
func WaitReady(ctx context.Context, client kubernetes.Interface, selector string, want int, progress io.Writer) error {
	if progress == nil {
		progress = io.Discard
	}
	start := time.Now()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var (
		ready    int
		notReady []string
		lastErr  error
		lastLine string
	)
	for {
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: "0"})
		if err == nil {
			ready, notReady = countReady(nodes.Items)
			line := fmt.Sprintf("nodes ready %d/%d", ready, want)
			if ready >= want {
				fmt.Fprintf(progress, "%s in %s\n", line, time.Since(start).Round(100*time.Millisecond))
				return nil
			}
			if line != lastLine {
				fmt.Fprintln(progress, line)
				lastLine = line
			}
			lastErr = nil
		} else {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			return waitError(ctx.Err(), selector, want, ready, notReady, lastErr)
		case <-tick.C:
		}
	}
}

func waitError(cause error, selector string, want, ready int, notReady []string, lastErr error) error {
	var b strings.Builder
	fmt.Fprintf(&b, "waiting for %d Ready nodes (selector %q): %d Ready", want, selector, ready)
	if total := ready + len(notReady); total < want {
		fmt.Fprintf(&b, ", only %d nodes exist", total)
	}
	if len(notReady) > 0 {
		sort.Strings(notReady)
		shown := notReady[:min(len(notReady), notReadyShown)]
		fmt.Fprintf(&b, "; not Ready: %s", strings.Join(shown, ", "))
		if more := len(notReady) - len(shown); more > 0 {
			fmt.Fprintf(&b, " and %d more", more)
		}
	}
	if lastErr != nil {
		fmt.Fprintf(&b, "; last list error: %v", lastErr)
	}
	return fmt.Errorf("%s: %w", b.String(), cause)
}

func countReady(nodes []corev1.Node) (int, []string) {
	ready := 0
	var notReady []string
	for i := range nodes {
		if NodeReady(&nodes[i]) {
			ready++
		} else {
			notReady = append(notReady, nodes[i].Name)
		}
	}
	return ready, notReady
}

// NodeReady reports whether the node's Ready condition is True.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Delete deletes every node matching selector in one collection delete and
// waits until they are gone, printing how many are left to progress (nil
// for none) every few seconds. An empty selector is refused: it would
// delete every node.
func Delete(ctx context.Context, client kubernetes.Interface, selector string, progress io.Writer) error {
	if strings.TrimSpace(selector) == "" {
		return fmt.Errorf("deleting fake nodes: refusing an empty selector (it would match every node)")
	}
	if progress == nil {
		progress = io.Discard
	}
	nodes := client.CoreV1().Nodes()
	if err := nodes.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: selector}); err != nil {
		return fmt.Errorf("deleting nodes %q: %w", selector, err)
	}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var lastPrinted time.Time
	for {
		// Metadata of at most a few thousand nodes: cheap enough to count.
		list, err := nodes.List(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: "0"})
		if err == nil && len(list.Items) == 0 {
			return nil
		}
		if err == nil && time.Since(lastPrinted) >= deleteProgressEvery {
			fmt.Fprintf(progress, "teardown: %d fake nodes still being deleted\n", len(list.Items))
			lastPrinted = time.Now()
		}
		select {
		case <-ctx.Done():
			left := "unknown"
			if err == nil {
				left = strconv.Itoa(len(list.Items))
			}
			return fmt.Errorf("waiting for nodes %q to be deleted (%s left): %w", selector, left, ctx.Err())
		case <-tick.C:
		}
	}
}
