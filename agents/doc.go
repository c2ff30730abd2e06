// Package agents runs emulated mesh control planes against a cluster:
// istiod and the istio-cni node agent for istio-ambient, cilium-agent and
// cilium-operator for cilium and cilium-ces. Each mesh is data (meshes.go):
// components with a replica rule, clients with the real QPS/burst and user
// agent, the watches with their selectors and content types, and the
// writes. What the API server sees is meant to match the real components
// (their API calls as read from istio and cilium sources); what happens
// on this side is kept cheap
// (package watch) so that a thousand agents cost megabytes, not gigabytes.
//
// Connection sharing: a real agent holds its own HTTP/2 connection. Here
// every replica of one component kind shares one HTTP transport for LISTs
// and writes and one watch.Mux for WATCH streams, so their requests are
// multiplexed over a few connections (a new one opens when the server's
// stream limit is reached). The API server sees the same requests,
// selectors, rates and user agents; it sees fewer TCP/TLS connections. An
// open watch holds no goroutine (watch.Mux, Reflector.Start), which is what
// keeps a thousand idle agents near 160 MB.
//
// Identity: unless Config.DisableImpersonation is set, each component
// impersonates its own service account (kube-system for Cilium, as the
// real DaemonSet, so API Priority and Fairness classifies it the same way)
// bound by a run-labelled ClusterRole to exactly what it calls. Without
// impersonation an admin credential would be exempt from APF and the 429s
// of an overloaded server could never reach the emulated agents.
//
// Sharding: Config.Components splits a mesh between processes. A run with
// ComponentsCentral does the setup and runs the replicated components, and
// announces its per-node agents; ServeShard, in each of N processes (churn
// agents --shard i/N, a StatefulSet), runs the agents of its share of the
// run's nodes (Shard.Select) with ComponentsPerNode and reports their
// counters back (external.go describes the protocol).
//
// Real components: Config.StandIns runs a real program in place of a
// fixed-replica component (the real istiod, cilium-operator), and
// Config.NodeStandIns one in place of a per-node agent on some nodes (real
// cilium-agents); see agents/realistiod and agents/realcilium. The
// emulation is checked against them from the API server's audit log
// (their fidelity tests).
package agents
