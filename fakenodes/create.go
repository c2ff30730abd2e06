package fakenodes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Spec describes a set of fake nodes named Prefix0 .. Prefix<Count-1>.
type Spec struct {
	Count  int
	Prefix string // default "churn-node-"
	CPU    string // capacity and allocatable; default "32"
	Memory string // default "256Gi"
	Pods   int    // default 110
	Zones  int    // zones zone-a, zone-b, ... assigned round-robin; default 3
	// Labels are added to every node (for example a run-ID label).
	Labels map[string]string
	// QPS bounds the creation rate; default 50.
	QPS float64
}

// Defaults.
const (
	DefaultPrefix = "churn-node-"
	DefaultCPU    = "32"
	DefaultMemory = "256Gi"
	DefaultPods   = 110
	DefaultZones  = 3
	DefaultQPS    = 50
	maxZones      = 26
	// maxNodes is how many distinct /24 pod CIDRs podCIDRBase holds.
	maxNodes = 1 << 15
	// workers caps concurrent creates; the limiter sets the rate, workers
	// only hide request latency.
	workers = 8
	// progressEvery is the period of progress lines.
	progressEvery = 2 * time.Second
)

// podCIDRBase: node i gets the i-th /24 of 10.128.0.0/9, so kwok gives pods
// on different nodes distinct IPs, as a real CNI's IPAM would. It does not
// overlap the service range 10.96.0.0/16 or kwok's fallback 10.0.0.0/16.
var podCIDRBase = netip.MustParseAddr("10.128.0.0")

// nodeIPBase: node i has InternalIP 10.64.0.0 + i + 1, so pods get a
// distinct hostIP per node. Nothing dials these addresses; they are data
// that node-aware clients (CNI agents, mesh agents) read.
var nodeIPBase = netip.MustParseAddr("10.64.0.0")

// WithDefaults returns s with defaults filled in.
func (s Spec) WithDefaults() Spec {
	if s.Prefix == "" {
		s.Prefix = DefaultPrefix
	}
	if s.CPU == "" {
		s.CPU = DefaultCPU
	}
	if s.Memory == "" {
		s.Memory = DefaultMemory
	}
	if s.Pods == 0 {
		s.Pods = DefaultPods
	}
	if s.Zones == 0 {
		s.Zones = DefaultZones
	}
	if s.QPS == 0 {
		s.QPS = DefaultQPS
	}
	return s
}

// Validate checks a defaulted Spec.
func (s Spec) Validate() error {
	var errs []error
	if s.Count < 0 || s.Count > maxNodes {
		errs = append(errs, fmt.Errorf("count: must be between 0 and %d, got %d", maxNodes, s.Count))
	}
	if _, err := resource.ParseQuantity(s.CPU); err != nil {
		errs = append(errs, fmt.Errorf("cpu: %q: %w", s.CPU, err))
	}
	if _, err := resource.ParseQuantity(s.Memory); err != nil {
		errs = append(errs, fmt.Errorf("memory: %q: %w", s.Memory, err))
	}
	if s.Pods < 1 {
		errs = append(errs, fmt.Errorf("pods: must be positive, got %d", s.Pods))
	}
	if s.Zones < 1 || s.Zones > maxZones {
		errs = append(errs, fmt.Errorf("zones: must be between 1 and %d, got %d", maxZones, s.Zones))
	}
	if s.QPS <= 0 {
		errs = append(errs, fmt.Errorf("qps: must be positive, got %g", s.QPS))
	}
	return errors.Join(errs...)
}

// Zone returns the zone name of node index i.
func (s Spec) Zone(i int) string { return "zone-" + string(rune('a'+i%s.Zones)) }

// NodeName returns the name of node index i.
func (s Spec) NodeName(i int) string { return s.Prefix + strconv.Itoa(i) }

// Node builds the Node object for index i of a defaulted Spec.
func (s Spec) Node(i int) *corev1.Node {
	name := s.NodeName(i)
	labels := map[string]string{}
	for k, v := range s.Labels {
		labels[k] = v
	}
	// Fixed labels win over extra ones: selectors rely on them.
	labels[TypeLabelKey] = TypeLabelValue
	labels[corev1.LabelHostname] = name
	labels[corev1.LabelOSStable] = "linux"
	labels[corev1.LabelArchStable] = "amd64"
	labels[ZoneLabelKey] = s.Zone(i)
	labels[RegionLabelKey] = Region
	labels[RoleLabelKey] = ""
	res := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(s.CPU),
		corev1.ResourceMemory: resource.MustParse(s.Memory),
		corev1.ResourcePods:   *resource.NewQuantity(int64(s.Pods), resource.DecimalSI),
	}
	cidr := podCIDR(i)
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   name,
			Labels: labels,
			Annotations: map[string]string{
				KWOKAnnotationKey: KWOKAnnotationValue,
				// No kubelet watches; tell kube-controller-manager's TTL
				// controller there is nothing to cache.
				"node.alpha.kubernetes.io/ttl": "0",
			},
		},
		Spec: corev1.NodeSpec{
			Taints:   []corev1.Taint{{Key: TaintKey, Value: TaintValue, Effect: TaintEffect}},
			PodCIDR:  cidr,
			PodCIDRs: []string{cidr},
		},
		Status: corev1.NodeStatus{
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: nodeIP(i)},
				{Type: corev1.NodeHostName, Address: name},
			},
			Capacity:    res,
			Allocatable: res.DeepCopy(),
		},
	}
}

func podCIDR(i int) string {
	b := podCIDRBase.As4()
	b[1] += byte(i >> 8)
	b[2] = byte(i)
	return netip.PrefixFrom(netip.AddrFrom4(b), 24).String()
}

func nodeIP(i int) string {
	b := nodeIPBase.As4()
	n := uint32(i + 1)
	b[1] += byte(n >> 16)
	b[2] = byte(n >> 8)
	b[3] = byte(n)
	return netip.AddrFrom4(b).String()
}

// Create creates spec.Count fake nodes at no more than spec.QPS creates
// per second and returns their names in index order. A node that already
// exists counts as created when it carries every label the spec gives it
// (a retried Create is idempotent); otherwise it is an error. Progress
// lines ("nodes created 250/1000 (120/s)") go to progress when not nil.
func Create(ctx context.Context, client kubernetes.Interface, spec Spec, progress io.Writer) ([]string, error) {
	spec = spec.WithDefaults()
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("invalid fake node spec: %w", err)
	}
	if progress == nil {
		progress = io.Discard
	}
	names := make([]string, spec.Count)
	for i := range names {
		names[i] = spec.NodeName(i)
	}
	if spec.Count == 0 {
		return names, nil
	}
	limiter := rate.NewLimiter(rate.Limit(spec.QPS), 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		done     atomic.Int64
		errOnce  sync.Once
		firstErr error
		next     = make(chan int)
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	for w := 0; w < min(workers, spec.Count); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := limiter.Wait(ctx); err != nil {
					fail(fmt.Errorf("creating fake nodes: %w", err))
					return
				}
				if err := createOne(ctx, client, spec, i); err != nil {
					fail(err)
					return
				}
				done.Add(1)
			}
		}()
	}
	start := time.Now()
	stopProgress := reportProgress(progress, &done, spec.Count, start)
feed:
	for i := 0; i < spec.Count; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	stopProgress()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = fmt.Errorf("creating fake nodes: %w", ctx.Err())
	}
	n := done.Load()
	fmt.Fprintf(progress, "nodes created %d/%d (%.0f/s)\n", n, spec.Count, rateOf(n, time.Since(start)))
	if firstErr != nil {
		return nil, fmt.Errorf("%w (%d of %d created)", firstErr, n, spec.Count)
	}
	return names, nil
}

func createOne(ctx context.Context, client kubernetes.Interface, spec Spec, i int) error {
	node := spec.Node(i)
	_, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err == nil {
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating node %s: %w", node.Name, err)
	}
	existing, gerr := client.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
	if gerr != nil {
		return fmt.Errorf("node %s already exists and reading it failed: %w", node.Name, gerr)
	}
	for k, v := range node.Labels {
		if got, ok := existing.Labels[k]; !ok || got != v {
			return fmt.Errorf("node %s already exists with different labels (%s=%q, want %q): not created by this spec; delete it or pick another prefix",
				node.Name, k, got, v)
		}
	}
	return nil
}

// reportProgress prints a progress line every progressEvery until the
// returned stop function is called.
func reportProgress(w io.Writer, done *atomic.Int64, total int, start time.Time) func() {
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				n := done.Load()
				fmt.Fprintf(w, "nodes created %d/%d (%.0f/s)\n", n, total, rateOf(n, time.Since(start)))
			}
		}
	}()
	return func() { close(stop); <-finished }
}

func rateOf(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
