package realistiod

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/churn-dev/churn/agents"
)

// args are pilot-discovery's flags as istio's discovery chart sets them,
// with every listener on a free loopback port. ports: http (also /ready),
// https (webhooks), grpc, secure grpc, monitoring, ctrlz.
func args(kubeconfig, meshConfig string, ports []int) []string {
	addr := func(i int) string { return net.JoinHostPort(loopback, strconv.Itoa(ports[i])) }
	return []string{
		"discovery",
		"--kubeconfig=" + kubeconfig,
		"--meshConfig=" + meshConfig,
		"--httpAddr=" + addr(0),
		"--httpsAddr=" + addr(1),
		"--grpcAddr=" + addr(2),
		"--secureGRPCAddr=" + addr(3),
		"--monitoringAddr=" + addr(4),
		"--ctrlz_address=" + loopback,
		"--ctrlz_port=" + strconv.Itoa(ports[5]),
		"--domain=cluster.local",
		"--keepaliveMaxServerConnectionAge=30m",
		"--log_output_level=default:info",
	}
}

// env is what the chart's deployment gives istiod (the ambient profile),
// with the pod fields filled from the stand-in identity. KUBECONFIG is set
// too so nothing falls back to a user's own.
func env(id agents.StandInIdentity, kubeconfig string) []string {
	sa := id.ServiceAccount
	if _, name, ok := strings.Cut(sa, "/"); ok {
		sa = name
	}
	return []string{
		"KUBECONFIG=" + kubeconfig,
		"REVISION=default",
		"PILOT_CERT_PROVIDER=istiod",
		"POD_NAME=istiod-churn-0",
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

// writeKubeconfig renders cfg (server, TLS, credentials, impersonation) as
// a kubeconfig file readable by the owner only.
func writeKubeconfig(path string, cfg *rest.Config) error {
	if cfg == nil {
		return fmt.Errorf("realistiod: no REST config")
	}
	host, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return fmt.Errorf("realistiod: server URL: %w", err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["churn"] = &clientcmdapi.Cluster{
		Server:                   host.String(),
		CertificateAuthority:     cfg.CAFile,
		CertificateAuthorityData: cfg.CAData,
		InsecureSkipTLSVerify:    cfg.Insecure,
		TLSServerName:            cfg.ServerName,
	}
	kc.AuthInfos["churn"] = &clientcmdapi.AuthInfo{
		ClientCertificate:     cfg.CertFile,
		ClientCertificateData: cfg.CertData,
		ClientKey:             cfg.KeyFile,
		ClientKeyData:         cfg.KeyData,
		Token:                 cfg.BearerToken,
		TokenFile:             cfg.BearerTokenFile,
		Username:              cfg.Username,
		Password:              cfg.Password,
		Impersonate:           cfg.Impersonate.UserName,
		ImpersonateUID:        cfg.Impersonate.UID,
		ImpersonateGroups:     cfg.Impersonate.Groups,
		ImpersonateUserExtra:  cfg.Impersonate.Extra,
		Exec:                  cfg.ExecProvider,
		AuthProvider:          cfg.AuthProvider,
	}
	kc.Contexts["churn"] = &clientcmdapi.Context{Cluster: "churn", AuthInfo: "churn"}
	kc.CurrentContext = "churn"
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return fmt.Errorf("realistiod: writing kubeconfig: %w", err)
	}
	return nil
}

// freePorts returns n distinct free loopback ports: all listeners stay open
// until every port is picked. Another process can still take one before
// istiod listens; istiod then exits and its log names the port.
func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
		if err != nil {
			return nil, fmt.Errorf("finding a free loopback port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
