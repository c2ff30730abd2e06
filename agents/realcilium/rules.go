package realcilium

import rbacv1 "k8s.io/api/rbac/v1"

// rule is one PolicyRule, written compactly.
func rule(group string, resources, verbs []string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: []string{group}, Resources: resources, Verbs: verbs}
}

var (
	read = []string{"get", "list", "watch"}
	// ciliumKinds are the cilium.io resources the agent lists and watches.
	ciliumKinds = []string{
		"ciliumloadbalancerippools", "ciliumbgppeeringpolicies", "ciliumbgpnodeconfigs", "ciliumbgpadvertisements",
		"ciliumbgppeerconfigs", "ciliumclusterwideenvoyconfigs", "ciliumclusterwidenetworkpolicies",
		"ciliumegressgatewaypolicies", "ciliumendpoints", "ciliumendpointslices", "ciliumenvoyconfigs",
		"ciliumidentities", "ciliumlocalredirectpolicies", "ciliumnetworkpolicies", "ciliumnodes",
		"ciliumnodeconfigs", "ciliumcidrgroups", "ciliuml2announcementpolicies", "ciliumpodippools",
	}
)

// agentRules are the cilium ClusterRole of Cilium's Helm chart at the
// pinned release (install/kubernetes/cilium/templates/cilium-agent), so
// the real agent is granted what a real install grants it and no request
// of it is refused for want of a rule.
func agentRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		rule("networking.k8s.io", []string{"networkpolicies"}, read),
		rule("discovery.k8s.io", []string{"endpointslices"}, read),
		rule("", []string{"namespaces", "services", "pods", "endpoints", "nodes"}, read),
		rule("", []string{"nodes/status"}, []string{"patch"}),
		rule("coordination.k8s.io", []string{"leases"}, []string{"create", "get", "update", "list", "delete"}),
		rule("apiextensions.k8s.io", []string{"customresourcedefinitions"}, []string{"list", "watch", "get"}),
		rule("", []string{"secrets"}, []string{"get"}),
		rule("cilium.io", ciliumKinds, []string{"list", "watch"}),
		rule("cilium.io", []string{"ciliumidentities", "ciliumendpoints", "ciliumnodes"}, []string{"create"}),
		rule("cilium.io", []string{"ciliumidentities"}, []string{"update"}),
		rule("cilium.io", []string{"ciliumendpoints"}, []string{"delete", "get"}),
		rule("cilium.io", []string{"ciliumnodes", "ciliumnodes/status"}, []string{"get", "update"}),
		rule("cilium.io", []string{"ciliumnetworkpolicies/status", "ciliumclusterwidenetworkpolicies/status",
			"ciliumendpoints/status", "ciliumendpoints", "ciliuml2announcementpolicies/status", "ciliumbgpnodeconfigs/status"},
			[]string{"patch"}),
	}
}

// operatorRules are the cilium-operator ClusterRole of the same chart,
// but for CRD creation and updates: churn installs the CRDs (with its run
// label) and runs the operator with --skip-crd-creation.
func operatorRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		rule("", []string{"pods"}, []string{"get", "list", "watch", "delete"}),
		rule("", []string{"nodes"}, []string{"list", "watch"}),
		rule("", []string{"nodes", "nodes/status"}, []string{"patch"}),
		rule("discovery.k8s.io", []string{"endpointslices"}, read),
		rule("", []string{"services/status"}, []string{"update", "patch"}),
		rule("", []string{"namespaces", "secrets"}, read),
		rule("", []string{"services", "endpoints"}, []string{"get", "list", "watch", "create", "update", "delete", "patch"}),
		rule("cilium.io", []string{"ciliumnetworkpolicies", "ciliumclusterwidenetworkpolicies"},
			[]string{"create", "update", "deletecollection", "patch", "get", "list", "watch"}),
		rule("cilium.io", []string{"ciliumnetworkpolicies/status", "ciliumclusterwidenetworkpolicies/status"}, []string{"patch", "update"}),
		rule("cilium.io", []string{"ciliumendpoints", "ciliumidentities"}, []string{"delete", "list", "watch"}),
		rule("cilium.io", []string{"ciliumidentities"}, []string{"update"}),
		rule("cilium.io", []string{"ciliumnodes"}, []string{"create", "update", "get", "list", "watch", "delete"}),
		rule("cilium.io", []string{"ciliumnodes/status"}, []string{"update"}),
		rule("cilium.io", []string{"ciliumendpointslices", "ciliumenvoyconfigs", "ciliumbgppeerconfigs",
			"ciliumbgpadvertisements", "ciliumbgpnodeconfigs"}, []string{"create", "update", "get", "list", "watch", "delete", "patch"}),
		rule("apiextensions.k8s.io", []string{"customresourcedefinitions"}, []string{"get", "list", "watch"}),
		rule("cilium.io", []string{"ciliumloadbalancerippools", "ciliumpodippools", "ciliumbgpclusterconfigs",
			"ciliumbgpnodeconfigoverrides"}, read),
		rule("cilium.io", []string{"ciliumpodippools"}, []string{"create"}),
		rule("cilium.io", []string{"ciliumloadbalancerippools/status"}, []string{"patch"}),
		rule("coordination.k8s.io", []string{"leases"}, []string{"create", "get", "update"}),
		rule("networking.k8s.io", []string{"ingresses", "ingressclasses"}, read),
		rule("networking.k8s.io", []string{"ingresses/status"}, []string{"update"}),
		rule("gateway.networking.k8s.io", []string{"gatewayclasses", "gateways", "tlsroutes", "httproutes",
			"grpcroutes", "referencegrants", "referencepolicies"}, read),
		rule("gateway.networking.k8s.io", []string{"gatewayclasses/status", "gateways/status", "httproutes/status",
			"grpcroutes/status", "tlsroutes/status"}, []string{"update", "patch"}),
	}
}
