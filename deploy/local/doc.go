// Package local runs a real Kubernetes control plane on the loopback
// interface: etcd, kube-apiserver, kube-controller-manager, kube-scheduler
// and kwok, built from the pinned module in deploy/controlplane into bin/.
//
// Layout of a cluster directory (Options.Dir):
//
//	state.json              processes, start times, ports (see State)
//	pki/                    CA, serving and client certificates, SA key pair
//	*.kubeconfig            one per component plus admin.kubeconfig (0600)
//	scheduler.yaml          KubeSchedulerConfiguration (client QPS/burst)
//	kwok/kwok.yaml          KwokConfiguration and the Stage objects kwok plays
//	logs/<name>.log         stdout+stderr of each process, appended across restarts
//	data/etcd/              etcd data; removed by Stop/Down unless keepData
//
// Decisions worth knowing:
//
//   - Every process runs in its own process group, so a Ctrl-C in the
//     terminal reaches only churn, which then stops the control plane in
//     order, and with Pdeathsig=SIGKILL, so a churn that dies hard never
//     leaves a control plane behind. Pdeathsig fires when the OS thread that
//     forked the child exits, so all children are forked from one goroutine
//     locked to its own thread that lives as long as the cluster (spawner).
//   - A recorded PID is only ever signalled after its start time
//     (/proc/<pid>/stat field 22) matches the one recorded at start, so a
//     recycled PID is never killed.
//   - The churn process that ran Up holds an flock on Dir/.lock for the
//     cluster's life; the kernel drops it when that process dies. Up over a
//     locked directory refuses ("stop it with churn down --dir X"). Up over
//     an unlocked one whose state still lists live processes (an owner that
//     died; Pdeathsig normally has killed them already) stops those
//     leftovers itself, since nobody can be using them.
//   - Down works from any process. It writes Dir/.down-requested first so
//     that a still-running owner neither reports nor restarts what Down
//     stops.
//   - Stop/Down with keepData mark Dir/data as kept; only marked data is
//     reused by the next Up. Data left by a crash is removed, so a new run
//     never starts with another run's objects.
//   - etcd runs with --unsafe-no-fsync. The cluster is disposable, and the
//     disk is shared with builds and tests: a synchronous 4 KiB write takes
//     about 0.3 ms on an idle development machine, but much longer while
//     another process writes, and every etcd commit waits for it. Those
//     stalls would show up as API-server latency that is the disk's, not
//     the control plane's. Data survives a process crash (page cache),
//     not a machine crash, which is fine for a test cluster.
//   - kube-apiserver uses --endpoint-reconciler-type=none: the advertise
//     address is 127.0.0.1, which Endpoints validation rejects, and nothing
//     in a simulated cluster dials the kubernetes Service.
//   - kube-controller-manager runs with --use-service-account-credentials
//     (as kubeadm sets it up): the system:kube-controller-manager role
//     alone lacks the rights of most controllers, and API priority and
//     fairness sees one flow per controller, as on a production cluster.
//   - kube-apiserver gets front-proxy (requestheader) credentials from a
//     separate CA; the controller-manager and scheduler delegate
//     authentication and otherwise log an error every few seconds.
//   - The admission chain is the stock default one: ServiceAccount admission
//     works because the controller-manager's serviceaccount controller
//     creates each namespace's default ServiceAccount and tokens are
//     projected (signed with the SA key), not secrets; kwok does not mount
//     volumes, so nothing else needs to exist for fake pods.
//   - The memory cap of kube-apiserver is enforced by polling VmRSS every
//     500ms and SIGKILLing above the cap (an "oom-killed" event followed by
//     "exited"), not with setrlimit: RLIMIT_AS counts virtual memory, which a
//     Go server reserves far beyond its RSS, so it would kill too early.
package local
