package churn

import (
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/churn-dev/churn/fakenodes"
	"github.com/churn-dev/churn/profiles"
)

// Per-pod requests: small enough that 110 pods fit on a default fake node
// (1.1 CPU, 1.8 GiB), large enough that the scheduler does real fitting.
const (
	podCPURequest    = "10m"
	podMemoryRequest = "16Mi"
)

// workload names and builds the objects of one run. Slot d (0-based, over
// all deployments) is deployment app-<d mod perNS> in namespace
// <prefix>-<d div perNS>, with a Service of the same name.
type workload struct {
	prefix     string
	runID      string
	namespaces int
	perNS      int
	replicas   int
	image      string
	width      int
}

func newWorkload(prefix, runID string, p profiles.Profile) workload {
	return workload{
		prefix:     prefix,
		runID:      runID,
		namespaces: p.Workload.Namespaces,
		perNS:      p.Workload.DeploymentsPerNamespace,
		replicas:   p.Workload.Replicas,
		image:      p.Workload.Image,
		width:      indexWidth(p.Workload.Namespaces),
	}
}

// indexWidth zero-pads namespace indexes so names sort in creation order.
func indexWidth(n int) int {
	return max(3, len(strconv.Itoa(max(n-1, 0))))
}

func (w workload) namespace(i int) string {
	return fmt.Sprintf("%s-%0*d", w.prefix, w.width, i)
}

func deploymentName(j int) string {
	return "app-" + strconv.Itoa(j)
}

// slot maps a global deployment index to its namespace and name.
func (w workload) slot(d int) (namespace, name string) {
	return w.namespace(d / w.perNS), deploymentName(d % w.perNS)
}

func (w workload) deployments() int {
	return w.namespaces * w.perNS
}

func (w workload) labels(extra map[string]string) map[string]string {
	l := RunLabels(w.runID)
	for k, v := range extra {
		l[k] = v
	}
	return l
}

func (w workload) namespaceObject(i int) *corev1.Namespace {
	return &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{
			Name:   w.namespace(i),
			Labels: w.labels(map[string]string{LabelGeneration: "0"}),
		},
	}
}

func (w workload) serviceObject(namespace, name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: namespace,
			Labels:    w.labels(map[string]string{LabelApp: name}),
		},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: map[string]string{LabelApp: name},
			Ports: []corev1.ServicePort{{
				Name:       "http",
				Port:       80,
				TargetPort: intstr.FromInt32(8080),
				Protocol:   corev1.ProtocolTCP,
			}},
		},
	}
}

func (w workload) deploymentObject(namespace, name string) *appsv1.Deployment {
	// Pods carry every run label: the mesh agents write only for pods that
	// carry them all, and teardown selects on them.
	podLabels := w.labels(map[string]string{LabelApp: name})
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: namespace,
			Labels:    w.labels(map[string]string{LabelApp: name}),
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(w.replicas)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelApp: name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{
						Name:  "app",
						Image: w.image,
						Ports: []corev1.ContainerPort{{ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU:    resource.MustParse(podCPURequest),
							corev1.ResourceMemory: resource.MustParse(podMemoryRequest),
						}},
					}},
					// Only this run's fake nodes: on a shared cluster the
					// workload must never land on a real node, nor on fake
					// nodes of another run or of `churn up`, which no agent
					// of this run watches.
					NodeSelector: w.nodeSelector(),
					Tolerations:  []corev1.Toleration{fakenodes.Toleration()},
					// Fake pods have nothing to shut down and no use for a
					// token; mounting one would add a TokenRequest per pod,
					// load that belongs to the workload, not to the churn.
					TerminationGracePeriodSeconds: ptr.To(int64(0)),
					AutomountServiceAccountToken:  ptr.To(false),
				},
			},
		},
	}
}

// nodeSelector pins pods to fake nodes that carry this run's label.
func (w workload) nodeSelector() map[string]string {
	sel := fakenodes.NodeSelector()
	sel[LabelRun] = w.runID
	return sel
}
