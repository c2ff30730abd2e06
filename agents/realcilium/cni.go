package realcilium

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"sync"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// CNIUserAgent marks the CNI stand-in's own requests (its pod watch) in
// the API server's audit log, apart from the agents'.
const CNIUserAgent = "churn-cni-standin (kubelet's CNI calls to cilium-agent)"

// cniWorkers bounds the CNI calls in flight to one agent, as a kubelet
// runs several pod sandboxes at once.
const cniWorkers = 4

// cniMaxRetries bounds the retries of one pod's ADD or DEL.
const cniMaxRetries = 5

// CNIOptions configure the CNI stand-in of each real agent.
type CNIOptions struct {
	// RESTConfig reaches the cluster for the node's pod watch (the run's
	// own access: kubelet's part, which KWOK plays).
	RESTConfig *rest.Config
}

// CNIStats count what the CNI stand-in did for one node.
type CNIStats struct {
	// Adds and Deletes are the pods set up and torn down through the
	// agent's API (an IPAM call and an endpoint call each).
	Adds, Deletes int64
	// Errors are calls that failed after their retries.
	Errors    int64
	LastError string
}

// cniStandIn plays cilium-cni for the pods KWOK runs on one node: when a
// pod has its sandbox (KWOK gives it an IP), ADD: an address from the
// agent's IPAM, then the endpoint; when it goes, DEL. KWOK runs no
// sandbox, so without this a real agent would have no endpoints and write
// no CiliumEndpoints.
type cniStandIn struct {
	node   string
	api    *apiClient
	log    *zap.Logger
	queue  workqueue.TypedRateLimitingInterface[string]
	store  cache.Store
	cancel context.CancelFunc
	done   sync.WaitGroup
	once   sync.Once

	mu    sync.Mutex
	pods  map[string]cniPod // namespace/name -> what was set up
	count CNIStats
}

// cniPod is a pod set up through the agent.
type cniPod struct {
	uid, containerID, ip, pool string
}

// client is the CNI stand-in's cluster access, under its own user agent.
func (o CNIOptions) client(node string) (kubernetes.Interface, error) {
	if o.RESTConfig == nil {
		return nil, fmt.Errorf("realcilium: no REST config for the CNI stand-in of %s", node)
	}
	cfg := rest.CopyConfig(o.RESTConfig)
	cfg.UserAgent = CNIUserAgent
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("CNI stand-in client: %w", err)
	}
	return cs, nil
}

// startCNI watches node's pods through cs and sets them up through api.
func startCNI(ctx context.Context, cs kubernetes.Interface, node string, api *apiClient, log *zap.Logger) (*cniStandIn, error) {
	return resumeCNI(ctx, cs, node, api, log, nil, CNIStats{})
}

// resumeCNI is startCNI for a restarted agent: pods are what the previous
// stand-in set up, which the kubelet would not set up again (the agent
// restores their endpoints from its state directory), and count its
// counters so far.
func resumeCNI(ctx context.Context, cs kubernetes.Interface, node string, api *apiClient, log *zap.Logger,
	pods map[string]cniPod, count CNIStats) (*cniStandIn, error) {
	if pods == nil {
		pods = map[string]cniPod{}
	}
	c := &cniStandIn{
		node: node, api: api, log: log.With(zap.String("node", node)),
		queue: workqueue.NewTypedRateLimitingQueue(workqueue.NewTypedItemExponentialFailureRateLimiter[string](200*time.Millisecond, 10*time.Second)),
		pods:  pods, count: count,
	}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", node).String()
	}))
	inf := factory.Core().V1().Pods().Informer()
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			c.queue.Add(key)
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	}); err != nil {
		return nil, fmt.Errorf("CNI stand-in pod handler: %w", err)
	}
	c.store = inf.GetStore()
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	factory.Start(runCtx.Done())
	for range cniWorkers {
		c.done.Add(1)
		go func() {
			defer c.done.Done()
			for c.next(runCtx) {
			}
		}()
	}
	return c, nil
}

// stop ends the pod watch and the workers; pods stay as they are (the
// agent's teardown and the run's remove the objects).
func (c *cniStandIn) stop() {
	c.once.Do(func() {
		c.cancel()
		c.queue.ShutDown()
		c.done.Wait()
		c.api.close()
	})
}

// restoredOnly keeps of pods, what a stand-in had set up before its
// agent restarted, those whose endpoints the agent restored (their
// container ids in restored). The others are set up again: their pods
// would otherwise have no endpoint. The datapath-less agent restores none
// (restore checks that each endpoint's veth exists); an agent in a real
// cluster restores them all, and the kubelet sets up nothing again.
func restoredOnly(pods map[string]cniPod, restored map[string]bool) (kept map[string]cniPod, dropped int) {
	kept = make(map[string]cniPod, len(pods))
	for k, p := range pods {
		if restored[p.containerID] {
			kept[k] = p
			continue
		}
		dropped++
	}
	return kept, dropped
}

// state is what the stand-in set up and counted (call after stop).
func (c *cniStandIn) state() (map[string]cniPod, CNIStats) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.pods), c.count
}

func (c *cniStandIn) stats() CNIStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count
}

func (c *cniStandIn) next(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	err := c.sync(ctx, key)
	switch {
	case err == nil:
		c.queue.Forget(key)
	case ctx.Err() != nil:
	case c.queue.NumRequeues(key) < cniMaxRetries:
		c.queue.AddRateLimited(key)
	default:
		c.queue.Forget(key)
		c.mu.Lock()
		c.count.Errors++
		c.count.LastError = err.Error()
		c.mu.Unlock()
		c.log.Warn("CNI stand-in gave up on a pod", zap.String("pod", key), zap.Error(err))
	}
	return true
}

// sync brings the agent's endpoint for the pod key in line with the pod:
// DEL what was set up for a pod that is gone, terminating or replaced
// (same name, new UID), ADD for a pod with a sandbox and no endpoint.
func (c *cniStandIn) sync(ctx context.Context, key string) error {
	var pod *corev1.Pod
	if obj, ok, _ := c.store.GetByKey(key); ok {
		pod, _ = obj.(*corev1.Pod)
	}
	want := pod != nil && pod.Spec.NodeName == c.node && pod.DeletionTimestamp == nil && pod.Status.PodIP != "" &&
		pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
	c.mu.Lock()
	have, set := c.pods[key]
	c.mu.Unlock()
	if set && (!want || string(pod.UID) != have.uid) {
		if err := c.del(ctx, key, have); err != nil {
			return err
		}
		set = false
	}
	if want && !set {
		return c.add(ctx, key, pod)
	}
	return nil
}

func (c *cniStandIn) add(ctx context.Context, key string, pod *corev1.Pod) error {
	cid := containerID(string(pod.UID))
	ip, pool, err := c.api.allocateIP(ctx, key)
	if err != nil {
		return err
	}
	req := endpointRequest{
		ContainerID:           cid,
		ContainerName:         "eth0",
		InterfaceName:         "lxc" + cid[:11],
		K8sNamespace:          pod.Namespace,
		K8sPodName:            pod.Name,
		K8sUID:                string(pod.UID),
		State:                 "waiting-for-identity",
		SyncBuildEndpoint:     true,
		DatapathConfiguration: map[string]any{"external-ipam": false},
	}
	req.Addressing.IPv4 = ip
	if err := c.api.createEndpoint(ctx, req); err != nil {
		// As cilium-cni: an address no endpoint took goes back.
		if rerr := c.api.releaseIP(context.WithoutCancel(ctx), ip, pool); rerr != nil {
			c.log.Debug("releasing an unused address", zap.String("ip", ip), zap.Error(rerr))
		}
		return err
	}
	c.mu.Lock()
	c.pods[key] = cniPod{uid: string(pod.UID), containerID: cid, ip: ip, pool: pool}
	c.count.Adds++
	c.mu.Unlock()
	return nil
}

func (c *cniStandIn) del(ctx context.Context, key string, p cniPod) error {
	if err := c.api.deleteEndpoint(ctx, p.containerID); err != nil {
		return err
	}
	if err := c.api.releaseIP(ctx, p.ip, p.pool); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.pods, key)
	c.count.Deletes++
	c.mu.Unlock()
	return nil
}

// containerID is a stable 64-hex-digit sandbox id for a pod UID, the form
// container runtimes give cilium-cni.
func containerID(uid string) string {
	sum := sha256.Sum256([]byte(uid))
	return hex.EncodeToString(sum[:])
}
