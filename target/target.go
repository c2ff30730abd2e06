// Package target resolves the cluster a run talks to: the local control
// plane churn starts, or any cluster given by a kubeconfig. It also holds the
// safety rule that a non-loopback cluster needs an explicit opt-in.
package target

import (
	"errors"
	"fmt"
	"net"
	"net/url"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Kinds of target, as recorded in results.json.
const (
	KindLocal      = "local"
	KindKubeconfig = "kubeconfig"
	// KindInCluster is the cluster churn runs in, as a pod (a Job of
	// deploy/job), with its service account's credentials.
	KindInCluster = "in-cluster"
)

// Target is a resolved cluster.
type Target struct {
	Kind       string
	Kubeconfig string
	Context    string
	Server     string
	Config     *rest.Config
}

// ErrRemoteNotAllowed is returned for a non-loopback server without
// --allow-remote.
var ErrRemoteNotAllowed = errors.New("refusing to run against a non-loopback API server without --allow-remote")

// FromKubeconfig loads path (and context, when set) into a Target.
func FromKubeconfig(path, context string) (*Target, error) {
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: path}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: context}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load --kubeconfig %s: %w", path, err)
	}
	return &Target{Kind: KindKubeconfig, Kubeconfig: path, Context: context, Server: cfg.Host, Config: cfg}, nil
}

// InCluster is the cluster of the pod churn runs in. It is remote like a
// kubeconfig target: its server (the kubernetes Service) is not loopback,
// so CheckAllowed wants the opt-in.
func InCluster() (*Target, error) {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("--in-cluster: %w", err)
	}
	return &Target{Kind: KindInCluster, Server: cfg.Host, Config: cfg}, nil
}

// Remote reports whether t is a cluster churn did not start: the plan is
// printed and permissions are checked before anything is created.
func (t *Target) Remote() bool { return t.Kind != KindLocal }

// IsLoopback reports whether server (a URL or host[:port]) names a loopback
// address. Names other than "localhost" are not resolved: a name could point
// anywhere, so it counts as remote.
func IsLoopback(server string) bool {
	host := server
	if u, err := url.Parse(server); err == nil && u.Host != "" {
		host = u.Host
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckAllowed enforces the remote opt-in.
func (t *Target) CheckAllowed(allowRemote bool) error {
	if t.Kind == KindLocal || IsLoopback(t.Server) || allowRemote {
		return nil
	}
	return fmt.Errorf("%w: server %s", ErrRemoteNotAllowed, t.Server)
}
