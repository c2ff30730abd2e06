package agents

import (
	"fmt"
	"time"

	"github.com/churn-dev/churn/agents/crds"
	"github.com/churn-dev/churn/agents/watch"
)

// Mesh names, in the order the CLI lists them.
var meshNames = []string{MeshNone, MeshIstioAmbient, MeshCilium, MeshCiliumCES}

// Meshes returns the known mesh names.
func Meshes() []string { return append([]string(nil), meshNames...) }

// Lag names recorded by the emulated components.
const (
	LagPodToNodeAgent      = "pod-created-to-node-agent"
	LagEndpointSliceIstiod = "endpointslice-change-to-istiod"
	LagEndpointSliceAgent  = "endpointslice-change-to-agent"
	LagCEPToAgents         = "ciliumendpoint-created-to-agents"
	LagCESToAgents         = "ciliumendpointslice-created-to-agents"
)

// core builds a watch of a built-in kind (protobuf, as the real clients).
func core(group, version, resource string) WatchDef {
	return WatchDef{Client: "kube", Group: group, Version: version, Resource: resource, Protobuf: true}
}

// custom builds a watch of a custom resource (JSON) at its storage version.
func custom(group, resource string, sets ...string) WatchDef {
	k, ok := crds.Lookup(group, resource, sets...)
	if !ok {
		// The tables below and the embedded manifests are maintained
		// together; a miss is a programming error caught by the tests.
		return WatchDef{Client: "kube", Group: group, Version: "unknown", Resource: resource}
	}
	return WatchDef{Client: "kube", Group: group, Version: k.Version, Resource: resource}
}

func (w WatchDef) with(f func(*WatchDef)) WatchDef {
	f(&w)
	return w
}

// Spec returns the data of a mesh.
func Spec(name string) (*MeshSpec, error) {
	switch name {
	case MeshNone, "":
		return &MeshSpec{Name: MeshNone}, nil
	case MeshIstioAmbient:
		return istioAmbient(), nil
	case MeshCilium:
		return cilium(false), nil
	case MeshCiliumCES:
		return cilium(true), nil
	}
	return nil, fmt.Errorf("unknown mesh %q (known: %v)", name, meshNames)
}

// istioAmbient: istiod and the istio-cni node agent (istio pilot/cmd/pilot-discovery, cni/pkg/nodeagent).
func istioAmbient() *MeshSpec {
	istiod := ComponentSpec{
		Name: "istiod", Replicas: 1,
		ServiceAccountNamespace: "istio-system", ServiceAccountName: "istiod",
		UserAgent: "pilot-discovery/emulated (linux/amd64) churn",
		Clients:   []ClientSpec{{Name: "kube", QPS: 80, Burst: 160}},
		// Seen in the real istiod's audit log: it syncs with streaming
		// WATCHes (client-go v0.35+).
		StreamingList: true,
		Behaviour:     behaviourIstiod,
		Watches: []WatchDef{
			core("", "v1", "pods").with(func(w *WatchDef) { w.FieldSelector = "status.phase!=Failed" }),
			core("", "v1", "namespaces").with(func(w *WatchDef) { w.Feed, w.Fields = feedNamespaces, watch.FieldLabels }),
			core("", "v1", "services"),
			core("", "v1", "nodes"),
			core("discovery.k8s.io", "v1", "endpointslices").with(func(w *WatchDef) {
				w.Lag, w.LagFrom = LagEndpointSliceIstiod, watch.LagTriggerTime
			}),
			core("", "v1", "secrets").with(func(w *WatchDef) {
				w.FieldSelector = "type!=helm.sh/release.v1,type!=kubernetes.io/service-account-token"
			}),
			core("", "v1", "configmaps").with(func(w *WatchDef) {
				w.FieldSelector, w.Feed = "metadata.name="+rootCertConfigMap, feedRootCertMaps
			}),
			{Client: "kube", Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions", MetadataOnly: true},
			// Measured on the real istiod (agents/realistiod fidelity test):
			// every ConfigMap, the CRL ConfigMaps, and the kinds of its
			// gateway deployment, ingress and webhook controllers.
			core("", "v1", "configmaps"),
			core("", "v1", "configmaps").with(func(w *WatchDef) { w.FieldSelector = "metadata.name=istio-ca-crl" }),
			core("", "v1", "serviceaccounts"),
			core("apps", "v1", "deployments"),
			core("autoscaling", "v2", "horizontalpodautoscalers"),
			core("policy", "v1", "poddisruptionbudgets"),
			core("networking.k8s.io", "v1", "ingresses"),
			core("networking.k8s.io", "v1", "ingressclasses"),
			core("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations"),
			core("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations").with(func(w *WatchDef) {
				w.LabelSelector = "istio.io/rev=default"
			}),
			core("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations").with(func(w *WatchDef) {
				w.FieldSelector = "metadata.name=istiod-default-validator"
			}),
		},
		Writes: []Rule{
			{Group: "", Resources: []string{"configmaps"}, Verbs: []string{"create", "update", "get"}},
			{Group: "coordination.k8s.io", Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}},
			// What the real istiod (--istiod real) writes beyond the
			// emulation, so it runs under the same account: its CA secret,
			// the default GatewayClasses and their status.
			{Group: "", Resources: []string{"secrets"}, Verbs: []string{"get", "create", "update"}},
			{Group: "gateway.networking.k8s.io", Resources: []string{"gatewayclasses"}, Verbs: []string{"create", "update", "patch"}},
			{Group: "gateway.networking.k8s.io", Resources: []string{"gatewayclasses/status"}, Verbs: []string{"update", "patch"}},
		},
	}
	for _, set := range []string{crds.SetIstio, crds.SetGatewayAPI} {
		kinds, _ := crds.Kinds(set)
		for _, k := range kinds {
			istiod.Watches = append(istiod.Watches, custom(k.Group, k.Resource, set))
		}
	}
	// istiod runs six leader elections, 30 s leases retried every 7.5 s,
	// renewed with GET then PUT (istio's fork of the elector), as measured
	// on the real one. It holds istio-leader, istio-namespace-controller-
	// election and istio-ip-autoallocate on ConfigMap locks, which the
	// emulation holds on Leases (same requests, another resource).
	for _, name := range []string{
		"istio-leader", "istio-namespace-controller-election", "istio-ip-autoallocate",
		"istio-status-leader", "istio-gateway-status-leader-default", "istio-gateway-deployment-default",
	} {
		istiod.Leases = append(istiod.Leases, LeaseSpec{Name: name, LeaseDuration: 30 * time.Second,
			RenewDeadline: 15 * time.Second, RetryPeriod: 7500 * time.Millisecond, GetBeforeRenew: true,
			Gates: name == "istio-namespace-controller-election"})
	}

	localPods := core("", "v1", "pods").with(func(w *WatchDef) {
		w.FieldSelector = "spec.nodeName={{node}}"
	})
	cni := ComponentSpec{
		Name: "istio-cni", PerNode: true,
		ServiceAccountNamespace: "istio-system", ServiceAccountName: "istio-cni",
		UserAgent: "istio-cni/emulated (linux/amd64) churn",
		Clients:   []ClientSpec{{Name: "kube", QPS: 80, Burst: 160}, {Name: "repair", QPS: 5, Burst: 10}},
		// Built from the same Istio module and client-go as istiod.
		StreamingList: true,
		Behaviour:     behaviourIstioCNI,
		Watches: []WatchDef{
			localPods.with(func(w *WatchDef) {
				w.Feed, w.Fields = feedLocalPods, watch.FieldLabels|watch.FieldAnnotations|watch.FieldPod
				w.Lag, w.LagFrom = LagPodToNodeAgent, watch.LagCreation
			}),
			core("", "v1", "namespaces"),
			// The repair controller's own client and informer.
			localPods.with(func(w *WatchDef) { w.Client = "repair" }),
		},
		Writes: []Rule{
			{Group: "", Resources: []string{"pods/status"}, Verbs: []string{"patch"}},
			{Group: "", Resources: []string{"pods", "namespaces"}, Verbs: []string{"get"}},
		},
	}
	return &MeshSpec{Name: MeshIstioAmbient, Components: []ComponentSpec{istiod, cni}, CRDSet: "istio"}
}

// cilium: cilium-agent and cilium-operator (cilium daemon/k8s/resources.go); with
// ces, agents watch CiliumEndpointSlices and the operator writes them.
func cilium(ces bool) *MeshSpec {
	name := MeshCilium
	if ces {
		name = MeshCiliumCES
	}
	c := crds.SetCilium
	endpoints := custom("cilium.io", "ciliumendpoints", c).with(func(w *WatchDef) {
		w.Lag, w.LagFrom = LagCEPToAgents, watch.LagCreation
	})
	if ces {
		endpoints = custom("cilium.io", "ciliumendpointslices", c).with(func(w *WatchDef) {
			w.Lag, w.LagFrom = LagCESToAgents, watch.LagCreation
		})
	}
	agent := ComponentSpec{
		Name: "cilium-agent", PerNode: true,
		ServiceAccountNamespace: "kube-system", ServiceAccountName: "cilium",
		UserAgent: "cilium-agent/emulated (linux/amd64) churn",
		Clients:   []ClientSpec{{Name: "kube", QPS: 10, Burst: 20}},
		Behaviour: behaviourCiliumAgent,
		Watches: []WatchDef{
			core("", "v1", "pods").with(func(w *WatchDef) {
				w.FieldSelector, w.Feed, w.Fields = "spec.nodeName={{node}}", feedLocalPods, watch.FieldLabels|watch.FieldPod
				w.Lag, w.LagFrom = LagPodToNodeAgent, watch.LagCreation
			}),
			core("", "v1", "nodes").with(func(w *WatchDef) { w.FieldSelector, w.Feed = "metadata.name={{node}}", feedOwnNode }),
			custom("cilium.io", "ciliumnodes", c),
			// Its own CiliumNode again, apart from all of them (the local
			// node store's watch; seen in the real agent's audit log).
			custom("cilium.io", "ciliumnodes", c).with(func(w *WatchDef) { w.FieldSelector = "metadata.name={{node}}" }),
			core("", "v1", "namespaces").with(func(w *WatchDef) { w.Feed, w.Fields = feedNamespaces, watch.FieldLabels }),
			core("networking.k8s.io", "v1", "networkpolicies"),
			custom("cilium.io", "ciliumnetworkpolicies", c),
			custom("cilium.io", "ciliumclusterwidenetworkpolicies", c),
			custom("cilium.io", "ciliumcidrgroups", c),
			custom("cilium.io", "ciliumenvoyconfigs", c),
			custom("cilium.io", "ciliumclusterwideenvoyconfigs", c),
			core("", "v1", "services").with(func(w *WatchDef) {
				w.LabelSelector = "!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name"
			}),
			core("discovery.k8s.io", "v1", "endpointslices").with(func(w *WatchDef) {
				w.LabelSelector = "!service.kubernetes.io/headless"
				w.Lag, w.LagFrom = LagEndpointSliceAgent, watch.LagTriggerTime
			}),
			endpoints,
			custom("cilium.io", "ciliumidentities", c).with(func(w *WatchDef) { w.Feed = feedIdentities }),
		},
		Writes: []Rule{
			{Group: "cilium.io", Resources: []string{"ciliumendpoints"}, Verbs: []string{"get", "create", "patch", "delete"}},
			{Group: "cilium.io", Resources: []string{"ciliumidentities"}, Verbs: []string{"create"}},
			{Group: "cilium.io", Resources: []string{"ciliumnodes"}, Verbs: []string{"get", "create", "update"}},
		},
	}
	operator := ComponentSpec{
		Name: "cilium-operator", Replicas: 2,
		ServiceAccountNamespace: "kube-system", ServiceAccountName: "cilium-operator",
		UserAgent: "cilium-operator-generic/emulated (linux/amd64) churn",
		Clients:   []ClientSpec{{Name: "kube", QPS: 100, Burst: 200}},
		Behaviour: behaviourCiliumOperator,
		Watches: []WatchDef{
			core("", "v1", "pods").with(func(w *WatchDef) { w.Feed = feedAllPods }),
			custom("cilium.io", "ciliumendpoints", c).with(func(w *WatchDef) {
				w.Feed, w.Fields = feedEndpoints, watch.FieldLabels|watch.FieldEndpoint
			}),
			custom("cilium.io", "ciliumidentities", c).with(func(w *WatchDef) {
				// The raw object is kept to write it back marked (GC).
				w.Feed, w.Fields = feedIdentities, watch.FieldLabels|watch.FieldRaw
			}),
			custom("cilium.io", "ciliumnodes", c),
			core("", "v1", "services"),
			core("discovery.k8s.io", "v1", "endpointslices"),
			// Seen in the real operator's audit log (TestRealCiliumRequestMix):
			// policies (status GC), nodes, and the Cilium and kube-dns pods it
			// watches to restart pods Cilium does not manage yet.
			custom("cilium.io", "ciliumnetworkpolicies", c),
			custom("cilium.io", "ciliumclusterwidenetworkpolicies", c),
			core("", "v1", "nodes"),
			core("", "v1", "pods").with(func(w *WatchDef) { w.LabelSelector = "k8s-app=cilium" }),
			core("", "v1", "pods").with(func(w *WatchDef) {
				w.LabelSelector, w.FieldSelector = "k8s-app=kube-dns", "status.phase=Running"
			}),
		},
		Writes: []Rule{
			{Group: "cilium.io", Resources: []string{"ciliumidentities"}, Verbs: []string{"update", "delete"}},
			{Group: "cilium.io", Resources: []string{"ciliumendpoints"}, Verbs: []string{"delete"}},
			{Group: "coordination.k8s.io", Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}},
		},
		// client-go v0.29 (Cilium v1.15) GETs the lease before every
		// renewal; the real operator's audit log shows it.
		Leases: []LeaseSpec{{Name: "cilium-operator-resource-lock", LeaseDuration: 15 * time.Second,
			RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second, Gates: true, GetBeforeRenew: true}},
	}
	if ces {
		operator.Watches = append(operator.Watches, custom("cilium.io", "ciliumendpointslices", c).with(func(w *WatchDef) {
			w.Feed, w.Fields = feedSavedSlices, watch.FieldLabels|watch.FieldRaw
		}))
		operator.Writes = append(operator.Writes, Rule{Group: "cilium.io", Resources: []string{"ciliumendpointslices"}, Verbs: []string{"create", "update", "delete"}})
	}
	return &MeshSpec{Name: name, Components: []ComponentSpec{agent, operator}, CRDSet: "cilium", Policies: true, EndpointSlices: ces}
}
