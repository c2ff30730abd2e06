package local

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/churn-dev/churn/deploy/kwok"
)

// FakeNodeAnnotation selects the nodes kwok manages; fakenodes sets it.
const FakeNodeAnnotation = "kwok.x-k8s.io/node=fake"

// helperGOGC is the GOGC of etcd, kube-controller-manager, kube-scheduler
// and kwok. On a 2-core machine their garbage collection competes with
// kube-apiserver, the process a run measures; at 400 they spent a fifth less
// CPU in a 10k-pods ramp, for about twice the memory. Their memory is
// reported, never judged.
const helperGOGC = "GOGC=400"

// component is everything needed to start and health-check one process.
type component struct {
	name       string
	binary     string
	args       []string
	env        []string
	ports      []int
	kubeconfig string
	healthURL  string
	// healthTimeout bounds the wait for a healthy endpoint at Up.
	healthTimeout time.Duration
}

func url(scheme string, port int, path string) string {
	return scheme + "://" + loopback + ":" + strconv.Itoa(port) + path
}

// buildComponents returns the components in start order (processOrder).
func buildComponents(o Options, p paths, ports Ports, bins map[string]string) []component {
	comps := churnComponents(o, p, ports, bins)
	if o.APIServers > 1 {
		comps = withAPIServerReplicas(o, p, ports, comps)
	}
	for i := range comps {
		// After churn's own, so the command line reads churn's then the
		// user's; CheckExtraArg keeps the two sets apart. Every API server
		// gets the kube-apiserver arguments.
		comps[i].args = append(comps[i].args, o.ExtraArgs[baseName(comps[i].name)]...)
	}
	return comps
}

// withAPIServerReplicas inserts kube-apiserver-2 onwards after the first
// API server, each its own port, log and audit log, then the load balancer.
func withAPIServerReplicas(o Options, p paths, ports Ports, comps []component) []component {
	var first component
	at := 0
	for i, c := range comps {
		if c.name == APIServer {
			first, at = c, i
		}
	}
	first.args = append(first.args, haShutdownArgs(o)...)
	comps[at] = first
	extra := []component{}
	for i, port := range ports.ExtraAPIServers {
		name := apiServerName(i + 2)
		c := first
		c.name = name
		c.ports = []int{port}
		c.healthURL = url("https", port, "/readyz")
		c.args = make([]string, len(first.args))
		for j, arg := range first.args {
			switch {
			case strings.HasPrefix(arg, "--secure-port="):
				arg = "--secure-port=" + strconv.Itoa(port)
			case strings.HasPrefix(arg, "--audit-log-path="):
				arg = "--audit-log-path=" + AuditLogPathOf(o.Audit.LogPath, name)
			}
			c.args[j] = arg
		}
		extra = append(extra, c)
	}
	extra = append(extra, component{
		name:   LoadBalancer,
		binary: o.haproxy,
		// -db: stay in the foreground, the supervisor's child.
		args:          []string{"-f", p.haproxyConfig(), "-db"},
		ports:         []int{ports.LoadBalancer},
		healthURL:     url("https", ports.LoadBalancer, "/readyz"),
		healthTimeout: time.Minute,
	})
	out := append([]component{}, comps[:at+1]...)
	out = append(out, extra...)
	return append(out, comps[at+1:]...)
}

// haShutdownArgs drain an API server that stops behind the load balancer
// (see HAShutdownDelay); a user's own --shutdown-delay-duration, appended
// later, wins.
func haShutdownArgs(o Options) []string {
	if o.APIServers <= 1 {
		return nil
	}
	return []string{"--shutdown-delay-duration=" + HAShutdownDelay.String()}
}

// AuditLogPathOf is the audit log of the named API server given the first
// one's: kube-apiserver-2 writes audit-2.log beside audit.log.
func AuditLogPathOf(first, name string) string {
	suffix, ok := strings.CutPrefix(name, APIServer+"-")
	if !ok || first == "" {
		return first
	}
	ext := filepath.Ext(first)
	return strings.TrimSuffix(first, ext) + "-" + suffix + ext
}

// churnComponents are the components with churn's own arguments only.
func churnComponents(o Options, p paths, ports Ports, bins map[string]string) []component {
	pki := p.pkiFile
	apiServer := url("https", ports.APIServer, "")
	// Components that serve HTTPS delegate authentication and authorization
	// to kube-apiserver; health and metrics are always allowed because the
	// whole control plane listens on loopback only and observers scrape
	// /metrics without credentials.
	delegated := func(kubeconfig string) []string {
		return []string{
			"--authentication-kubeconfig=" + kubeconfig,
			"--authorization-kubeconfig=" + kubeconfig,
			"--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
			"--tls-cert-file=" + pki(certServing+".crt"),
			"--tls-private-key-file=" + pki(certServing+".key"),
			"--bind-address=" + loopback,
		}
	}
	kcmKubeconfig := p.kubeconfig(ControllerManager)
	schedKubeconfig := p.kubeconfig(Scheduler)
	kwokKubeconfig := p.kubeconfig(KWOK)
	return []component{
		{
			name:   Etcd,
			binary: bins[Etcd],
			args: []string{
				"--name=churn",
				"--data-dir=" + p.etcdData(),
				"--listen-client-urls=" + url("http", ports.Etcd, ""),
				"--advertise-client-urls=" + url("http", ports.Etcd, ""),
				"--listen-peer-urls=" + url("http", ports.EtcdPeer, ""),
				"--initial-advertise-peer-urls=" + url("http", ports.EtcdPeer, ""),
				"--initial-cluster=churn=" + url("http", ports.EtcdPeer, ""),
				"--initial-cluster-state=new",
				"--quota-backend-bytes=" + strconv.FormatInt(etcdQuotaBytes, 10),
				// Disposable cluster on a shared disk: see the package doc.
				"--unsafe-no-fsync=true",
				// kube-apiserver compacts every 5 minutes itself.
				"--auto-compaction-retention=0",
			},
			env:           []string{helperGOGC},
			ports:         []int{ports.Etcd, ports.EtcdPeer},
			healthURL:     url("http", ports.Etcd, "/health"),
			healthTimeout: time.Minute,
		},
		{
			name:   APIServer,
			binary: bins[APIServer],
			args: append([]string{
				"--etcd-servers=" + url("http", ports.Etcd, ""),
				"--bind-address=" + loopback,
				"--advertise-address=" + loopback,
				"--secure-port=" + strconv.Itoa(ports.APIServer),
				"--tls-cert-file=" + pki(certAPIServer+".crt"),
				"--tls-private-key-file=" + pki(certAPIServer+".key"),
				"--client-ca-file=" + pki(fileCACert),
				// Unused because TLS files are given, but keeps the default
				// (/var/run/kubernetes) from being created.
				"--cert-dir=" + p.pki(),
				"--authorization-mode=Node,RBAC",
				"--service-cluster-ip-range=" + serviceClusterIPCIDR,
				"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
				"--service-account-key-file=" + pki(fileSAPub),
				"--service-account-signing-key-file=" + pki(fileSAKey),
				// The advertise address is loopback, which Endpoints
				// validation rejects; nothing dials the kubernetes Service.
				"--endpoint-reconciler-type=none",
				"--enable-priority-and-fairness=true",
				// Front-proxy (aggregation layer) credentials. Without a
				// requestheader CA the controller-manager and scheduler,
				// which delegate authentication, log an error every few
				// seconds; with it aggregated API servers also work.
				"--requestheader-client-ca-file=" + pki(caFrontProxy+".crt"),
				"--requestheader-allowed-names=front-proxy-client",
				"--requestheader-username-headers=X-Remote-User",
				"--requestheader-group-headers=X-Remote-Group",
				"--requestheader-extra-headers-prefix=X-Remote-Extra-",
				"--proxy-client-cert-file=" + pki(certFrontProxyClient+".crt"),
				"--proxy-client-key-file=" + pki(certFrontProxyClient+".key"),
				// Emulated agents may be privileged DaemonSet pods.
				"--allow-privileged=true",
			}, o.Audit.apiServerArgs()...),
			env:           apiServerEnv(o),
			ports:         []int{ports.APIServer},
			kubeconfig:    p.admin(),
			healthURL:     apiServer + "/readyz",
			healthTimeout: 3 * time.Minute,
		},
		{
			name:   ControllerManager,
			binary: bins[ControllerManager],
			args: append(delegated(kcmKubeconfig),
				"--kubeconfig="+kcmKubeconfig,
				"--secure-port="+strconv.Itoa(ports.ControllerManager),
				"--leader-elect="+strconv.FormatBool(o.LeaderElection),
				"--controllers=*",
				// Each controller runs as its own ServiceAccount, as kubeadm
				// sets it up: the system:kube-controller-manager role
				// alone lacks the rights of most controllers, and API
				// priority and fairness sees one flow per controller, as
				// on a production cluster.
				"--use-service-account-credentials=true",
				"--service-account-private-key-file="+pki(fileSAKey),
				"--root-ca-file="+pki(fileCACert),
				"--service-cluster-ip-range="+serviceClusterIPCIDR,
				"--kube-api-qps="+strconv.Itoa(o.ControllerManagerQPS),
				"--kube-api-burst="+strconv.Itoa(2*o.ControllerManagerQPS),
				// Defaults (5) are sized for small clusters; a 50k-pod
				// ramp is bounded by these workers otherwise.
				"--concurrent-deployment-syncs=20",
				"--concurrent-replicaset-syncs=20",
				"--concurrent-service-endpoint-syncs=20",
				"--concurrent-endpoint-syncs=20",
				"--concurrent-gc-syncs=30",
				"--concurrent-namespace-syncs=20",
			),
			env:           []string{helperGOGC},
			ports:         []int{ports.ControllerManager},
			kubeconfig:    kcmKubeconfig,
			healthURL:     url("https", ports.ControllerManager, "/healthz"),
			healthTimeout: 2 * time.Minute,
		},
		{
			name:   Scheduler,
			binary: bins[Scheduler],
			args: append(delegated(schedKubeconfig),
				"--config="+p.schedulerConfig(),
				"--secure-port="+strconv.Itoa(ports.Scheduler),
			),
			env:           []string{helperGOGC},
			ports:         []int{ports.Scheduler},
			kubeconfig:    schedKubeconfig,
			healthURL:     url("https", ports.Scheduler, "/healthz"),
			healthTimeout: 2 * time.Minute,
		},
		{
			name:   KWOK,
			binary: bins[KWOK],
			args: []string{
				"--kubeconfig=" + kwokKubeconfig,
				"--config=" + p.kwokConfig(),
				"--manage-all-nodes=false",
				"--manage-nodes-with-annotation-selector=" + FakeNodeAnnotation,
				"--node-lease-duration-seconds=" + strconv.Itoa(kwokNodeLeaseSeconds),
				"--server-address=" + loopback + ":" + strconv.Itoa(ports.KWOK),
				// Fallback pod CIDR for nodes without spec.podCIDR
				// (fakenodes sets one per node).
				"--cidr=10.0.0.0/16",
				// At INFO kwok logs every lease renewal and status patch:
				// about 100 lines/s at 1,000 nodes.
				"--v=WARN",
			},
			// kwok also reads $KWOK_WORKDIR/kwok.yaml; point it into the
			// cluster directory so a user's ~/.kwok never leaks in.
			env:           []string{"KWOK_WORKDIR=" + p.kwokDir(), helperGOGC},
			ports:         []int{ports.KWOK},
			kubeconfig:    kwokKubeconfig,
			healthURL:     url("http", ports.KWOK, "/healthz"),
			healthTimeout: 2 * time.Minute,
		},
	}
}

// apiServerEnv is kube-apiserver's environment beyond churn's own.
func apiServerEnv(o Options) []string {
	if o.APIServerGOGC == 0 {
		return nil
	}
	return []string{"GOGC=" + strconv.Itoa(o.APIServerGOGC)}
}

// schedulerConfigYAML renders the KubeSchedulerConfiguration: client QPS
// and burst can only be set there (the flags are deprecated and ignored with
// --config), and so can the default spread constraints.
func schedulerConfigYAML(kubeconfig string, qps int, withoutDefaultSpread, leaderElect bool) ([]byte, error) {
	cfg := map[string]any{
		"apiVersion": "kubescheduler.config.k8s.io/v1",
		"kind":       "KubeSchedulerConfiguration",
		"clientConnection": map[string]any{
			"kubeconfig": kubeconfig,
			"qps":        qps,
			"burst":      2 * qps,
		},
		"leaderElection": map[string]any{"leaderElect": leaderElect},
	}
	if withoutDefaultSpread {
		// defaultingType List with no constraints is the documented way to
		// drop the cluster-level defaults; pods' own constraints still apply.
		cfg["profiles"] = []any{map[string]any{
			"schedulerName": "default-scheduler",
			"pluginConfig": []any{map[string]any{
				"name": "PodTopologySpread",
				"args": map[string]any{
					"apiVersion":         "kubescheduler.config.k8s.io/v1",
					"kind":               "PodTopologySpreadArgs",
					"defaultingType":     "List",
					"defaultConstraints": []any{},
				},
			}},
		}}
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encoding scheduler configuration: %w", err)
	}
	return b, nil
}

// kwokConfigYAML is kwok's --config: worker counts and the Stage objects
// kwok plays for fake nodes and pods, from deploy/kwok, so the local kwok
// and one installed on a real cluster behave the same.
func kwokConfigYAML() ([]byte, error) {
	b, err := kwok.Config()
	if err != nil {
		return nil, fmt.Errorf("kwok configuration: %w", err)
	}
	return b, nil
}

// writeConfigs writes the scheduler and kwok configuration files.
func writeConfigs(o Options, p paths) error {
	sched, err := schedulerConfigYAML(p.kubeconfig(Scheduler), o.SchedulerQPS, o.SchedulerWithoutDefaultSpread, o.LeaderElection)
	if err != nil {
		return err
	}
	if err := writeFile0600(p.schedulerConfig(), sched); err != nil {
		return err
	}
	if err := os.MkdirAll(p.kwokDir(), 0o700); err != nil {
		return fmt.Errorf("creating kwok directory: %w", err)
	}
	stages, err := kwokConfigYAML()
	if err != nil {
		return err
	}
	return writeFile0600(p.kwokConfig(), stages)
}
