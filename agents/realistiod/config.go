package realistiod

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/churn-dev/churn/agents"
	"github.com/churn-dev/churn/internal/childproc"
)

// args are pilot-discovery's flags as istio's discovery chart sets them,
// with every listener on a free loopback port. ports: http (also /ready),
// https (webhooks), grpc, secure grpc, monitoring, ctrlz.
func args(kubeconfig, meshConfig string, ports []int) []string {
	addr := func(i int) string { return net.JoinHostPort(childproc.Loopback, strconv.Itoa(ports[i])) }
	return []string{
		"discovery",
		"--kubeconfig=" + kubeconfig,
		"--meshConfig=" + meshConfig,
		"--httpAddr=" + addr(0),
		"--httpsAddr=" + addr(1),
		"--grpcAddr=" + addr(2),
		"--secureGRPCAddr=" + addr(3),
		"--monitoringAddr=" + addr(4),
		"--ctrlz_address=" + childproc.Loopback,
		"--ctrlz_port=" + strconv.Itoa(ports[5]),
		"--domain=cluster.local",
		"--keepaliveMaxServerConnectionAge=30m",
		"--log_output_level=default:info",
	}
}

// env is what the chart's deployment gives istiod (the ambient profile),
// with the pod fields filled from the stand-in identity and pod, its pod
// name. KUBECONFIG is set too so nothing falls back to a user's own.
func env(id agents.StandInIdentity, kubeconfig, pod string) []string {
	sa := id.ServiceAccount
	if _, name, ok := strings.Cut(sa, "/"); ok {
		sa = name
	}
	return []string{
		"KUBECONFIG=" + kubeconfig,
		"REVISION=default",
		"PILOT_CERT_PROVIDER=istiod",
		"POD_NAME=" + pod,
		"POD_NAMESPACE=" + id.Namespace,
		"SERVICE_ACCOUNT=" + sa,
		"CA_TRUSTED_NODE_ACCOUNTS=" + id.Namespace + "/ztunnel",
		"PILOT_ENABLE_AMBIENT=true",
		"PILOT_ENABLE_ANALYSIS=false",
		"CLUSTER_ID=Kubernetes",
	}
}

// meshConfigYAML is the ambient profile's mesh config, rooted in the
// mesh's namespace (istiod's own config namespace).
func meshConfigYAML(namespace string) string {
	return fmt.Sprintf(`rootNamespace: %s
defaultConfig:
  proxyMetadata:
    ISTIO_META_ENABLE_HBONE: "true"
`, namespace)
}
