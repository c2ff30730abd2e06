// Package realcilium runs the real Cilium control plane in place of the
// emulated one: cilium-operator-generic (Operator, a stand-in for the
// emulated operator) and, on some of the run's nodes, cilium-agent (Agent,
// a per-node stand-in), both built by make cilium from the pinned module
// in deploy/cilium. The agent is Cilium's own, assembled with Cilium's
// fake datapath, so it makes the real agent's API requests without
// touching the kernel.
//
// KWOK runs no pod sandboxes, so no CNI ADD ever reaches a real agent: each
// Agent also runs a CNI stand-in that watches its node's pods and makes
// cilium-cni's calls (IPAM, then endpoint create; endpoint delete, then
// IPAM release) on the agent's API socket. The agent then creates the
// CiliumEndpoints and identities as it would for a real pod.
//
// Each process runs in its own process group, dies with churn, listens on
// loopback only and logs to a file; each agent has a mount namespace of
// its own, so several share the machine without sharing Cilium's fixed
// /var/run/cilium.
package realcilium
