package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/churn-dev/churn/churn"
	"github.com/churn-dev/churn/fakenodes"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/snapshot"
)

// fingerprintRunID stands in for the run ID while rendering templates, so
// the fingerprint depends on the templates only.
const fingerprintRunID = "00000000-000000-0000"

// nodeSpec is the fake node set a run of p creates.
func nodeSpec(p profiles.Profile, labelID string) fakenodes.Spec {
	return fakenodes.Spec{
		Count:  p.Nodes.Count,
		Prefix: NamePrefix(labelID) + "-node-",
		CPU:    p.Nodes.CPU,
		Memory: p.Nodes.Memory,
		Pods:   p.Nodes.Pods,
		Zones:  p.Nodes.Zones,
		Labels: churn.RunLabels(labelID),
		QPS:    p.Nodes.CreateQPS,
	}
}

// SetupIdentity is what a saved setup must match for a run of profile p to
// start from it: the setup fields of p and the fingerprint of the objects
// this churn builds from them (see snapshot.SetupOf).
func SetupIdentity(ctx context.Context, p profiles.Profile) (snapshot.Setup, error) {
	fp, err := templateFingerprint(ctx, p)
	if err != nil {
		return nil, err
	}
	return snapshot.SetupOf(p, fp), nil
}

// templateFingerprint hashes one node, namespace, service and deployment as
// churn builds them. The workload objects are rendered by the churn
// engine's own Setup against an in-memory clientset, so any change to what
// setup creates changes the fingerprint, and a snapshot made by a churn
// that built other objects is refused instead of running on stale ones.
// The profile values are replaced by fixed ones first: they are setup
// fields of their own, and a mismatch should name the field, not also the
// templates.
func templateFingerprint(ctx context.Context, p profiles.Profile) (string, error) {
	one := p
	one.Nodes.Count, one.Nodes.Zones = 1, 1
	one.Nodes.CPU, one.Nodes.Memory, one.Nodes.Pods = fakenodes.DefaultCPU, fakenodes.DefaultMemory, fakenodes.DefaultPods
	one.Workload.Namespaces, one.Workload.DeploymentsPerNamespace, one.Workload.Replicas = 1, 1, 1
	one.Workload.Image = "template.invalid/image:1"
	client := fake.NewClientset()
	eng, err := churn.New(churn.Config{Client: client, Profile: one, RunID: fingerprintRunID, Prefix: NamePrefix(fingerprintRunID)})
	if err != nil {
		return "", fmt.Errorf("rendering setup templates: %w", err)
	}
	if err := eng.Setup(ctx); err != nil {
		return "", fmt.Errorf("rendering setup templates: %w", err)
	}
	var objs []any
	node := nodeSpec(one, fingerprintRunID).WithDefaults().Node(0)
	objs = append(objs, node)
	namespaces, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", fmt.Errorf("rendering setup templates: %w", err)
	}
	for i := range namespaces.Items {
		objs = append(objs, &namespaces.Items[i])
	}
	services, err := client.CoreV1().Services(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", fmt.Errorf("rendering setup templates: %w", err)
	}
	for i := range services.Items {
		objs = append(objs, &services.Items[i])
	}
	deployments, err := client.AppsV1().Deployments(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", fmt.Errorf("rendering setup templates: %w", err)
	}
	for i := range deployments.Items {
		objs = append(objs, &deployments.Items[i])
	}
	if len(objs) != 4 {
		return "", fmt.Errorf("rendering setup templates: got %d objects, want a node, a namespace, a service and a deployment", len(objs))
	}
	h := sha256.New()
	for _, o := range objs {
		if m, ok := o.(metav1.Object); ok {
			// What the in-memory store sets is not the template's.
			m.SetResourceVersion("")
			m.SetUID("")
			m.SetCreationTimestamp(metav1.Time{})
			m.SetManagedFields(nil)
			m.SetGeneration(0)
		}
		b, err := json.Marshal(o)
		if err != nil {
			return "", fmt.Errorf("encoding setup template: %w", err)
		}
		h.Write(b)
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
