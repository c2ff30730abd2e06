package local

import (
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// contextName is the single context in every kubeconfig churn writes.
const contextName = "churn"

// RESTConfig QPS and burst: high on purpose, so that churn's own pacing
// (and, for emulated components, their own limits) governs the request rate
// rather than client-go's default of 5 QPS.
const (
	adminQPS   = 500
	adminBurst = 1000
)

// kubeconfigBytes renders a kubeconfig with embedded credentials, so the
// file stands alone (it can be copied or mounted elsewhere).
func kubeconfigBytes(server string, caPEM []byte, client keyPairPEM) ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[contextName] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[contextName] = &clientcmdapi.AuthInfo{ClientCertificateData: client.cert, ClientKeyData: client.key}
	cfg.Contexts[contextName] = &clientcmdapi.Context{Cluster: contextName, AuthInfo: contextName}
	cfg.CurrentContext = contextName
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("encoding kubeconfig: %w", err)
	}
	return b, nil
}

// writeKubeconfigs writes admin.kubeconfig and one kubeconfig per client
// component, all mode 0600.
func writeKubeconfigs(p paths, server string, b *pkiBundle) error {
	for name, leaf := range map[string]string{
		"admin":           certAdmin,
		ControllerManager: certControllerManager,
		Scheduler:         certScheduler,
		KWOK:              certKWOK,
	} {
		data, err := kubeconfigBytes(server, b.caPEM, b.leaves[leaf])
		if err != nil {
			return fmt.Errorf("kubeconfig for %s: %w", name, err)
		}
		if err := writeFile0600(p.kubeconfig(name), data); err != nil {
			return err
		}
	}
	return nil
}

// restConfigFromKubeconfig loads a kubeconfig file written by churn.
func restConfigFromKubeconfig(path string) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig %s: %w", path, err)
	}
	cfg.QPS, cfg.Burst = adminQPS, adminBurst
	return cfg, nil
}

func adminRESTConfig(server string, caPEM []byte, admin keyPairPEM) *rest.Config {
	return &rest.Config{
		Host: server,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   caPEM,
			CertData: admin.cert,
			KeyData:  admin.key,
		},
		QPS:   adminQPS,
		Burst: adminBurst,
	}
}
