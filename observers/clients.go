package observers

import (
	"fmt"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// DedicatedConfig copies the run's config for one observer: its own
// connection pool, no client-side rate limit (a probe that waits in churn's
// own token bucket would measure churn, not the API server), a user agent
// that names it in the API server's logs, and protobuf on the wire because
// decoding is churn's CPU. Per-request timeouts come from contexts, not
// Config.Timeout, which would also cut long-lived watches.
func DedicatedConfig(cfg *rest.Config, observer string) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.QPS = -1
	c.Burst = 0
	c.RateLimiter = nil
	c.Timeout = 0
	c.UserAgent = "churn-observer/" + observer
	c.ContentType = "application/vnd.kubernetes.protobuf"
	c.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	return c
}

// typedClient is the observer's clientset: a dedicated one built from
// env.Config, or env.Client when no Config is given (unit tests).
func typedClient(env Env, observer string) (kubernetes.Interface, error) {
	if env.Config == nil {
		return env.Client, nil
	}
	c, err := kubernetes.NewForConfig(DedicatedConfig(env.Config, observer))
	if err != nil {
		return nil, fmt.Errorf("build client: %w", err)
	}
	return c, nil
}

// rawClient is a REST client for non-resource paths (/metrics, /readyz).
func rawClient(env Env, observer string) (rest.Interface, error) {
	if env.Config == nil {
		if env.Client == nil || env.Client.Discovery() == nil {
			return nil, fmt.Errorf("no REST config to reach non-resource paths")
		}
		rc := env.Client.Discovery().RESTClient()
		if rc == nil {
			return nil, fmt.Errorf("client has no REST client for non-resource paths")
		}
		return rc, nil
	}
	cfg := DedicatedConfig(env.Config, observer)
	// Non-resource paths answer in text or Prometheus formats, not
	// Kubernetes protobuf.
	cfg.ContentType = ""
	cfg.AcceptContentTypes = ""
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("build REST client: %w", err)
	}
	return dc.RESTClient(), nil
}
