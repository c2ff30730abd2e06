package runner

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/disruption"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
	"github.com/churn-dev/churn/version"
)

// leaderHandoverTimeout bounds the wait for a replaced controller to take
// its lease: a lease not released lapses after 15 s (the default lease
// duration), and a new instance also has to sync its informers.
const leaderHandoverTimeout = 2 * time.Minute

// CheckUpgrade refuses, before anything starts, an upgrade the local
// control plane cannot do: one outside Kubernetes' skew policy, or to a
// release whose binaries are not built (naming the make command).
func CheckUpgrade(o Options) error {
	spec := o.Profile.Disruptions.Upgrade
	if spec == "" {
		return nil
	}
	u, err := profiles.ParseUpgrade(spec)
	if err != nil {
		return fmt.Errorf("--upgrade: %w", err)
	}
	from := runningRelease(o)
	if err := profiles.CheckUpgradeSkew(from, u.To); err != nil {
		return fmt.Errorf("--upgrade %s: %w", spec, err)
	}
	binDir := o.BinDir
	if binDir == "" {
		binDir = "bin"
	}
	if _, err := local.CheckBinariesFor(binDir, u.To); err != nil {
		return fmt.Errorf("--upgrade %s: %w", spec, err)
	}
	return nil
}

// runningRelease is the Kubernetes release the local control plane starts
// with.
func runningRelease(o Options) string {
	if o.KubernetesVersion != "" {
		return o.KubernetesVersion
	}
	return version.Kubernetes
}

// upgrader is what a rolling upgrade needs of the local control plane:
// local.Cluster.
type upgrader interface {
	APIServerEndpoints() []local.APIServerEndpoint
	Replace(ctx context.Context, name, kubernetesVersion string, onStopped func()) error
	APIServerShutdownFlag(flag string) (time.Duration, bool)
	APIServerTerminationGraceOf() time.Duration
	WaitBalanced(ctx context.Context, name string) error
}

// upgradePlan replaces every API server in turn, then
// kube-controller-manager and kube-scheduler, as a managed control plane
// is upgraded: API servers first, so that controllers are never newer than
// the API servers they talk to. Each step ends when its process is ready
// again: an API server serving the new release, a controller holding its
// leader lease again.
func upgradePlan(u profiles.UpgradeSpec, from string, c upgrader, client kubernetes.Interface, cfg *rest.Config) disruption.Plan {
	servers := c.APIServerEndpoints()
	settings := map[string]string{"from": from, "to": u.To, "apiservers": strconv.Itoa(len(servers))}
	for _, flag := range []string{"--shutdown-delay-duration", "--shutdown-watch-termination-grace-period"} {
		d, _ := c.APIServerShutdownFlag(flag)
		settings[flag[2:]] = d.String()
	}
	settings["termination-grace-period"] = c.APIServerTerminationGraceOf().String()
	var steps []disruption.Step
	for _, s := range servers {
		steps = append(steps, disruption.Step{
			Name: fmt.Sprintf("%s %s -> %s", s.Name, from, u.To), Targets: []string{s.Name}, From: from, To: u.To,
			Do: func(ctx context.Context, p *disruption.Progress) error {
				if err := c.Replace(ctx, s.Name, u.To, p.Stopped); err != nil {
					return err
				}
				if err := checkServing(cfg, s.URL, u.To); err != nil {
					return fmt.Errorf("%s: %w", s.Name, err)
				}
				// Ready when clients can reach it again, as a rolling
				// update waits for the load balancer's health check.
				if err := c.WaitBalanced(ctx, s.Name); err != nil {
					return err
				}
				p.Ready()
				return nil
			},
		})
	}
	for _, name := range []string{local.ControllerManager, local.Scheduler} {
		steps = append(steps, disruption.Step{
			Name: fmt.Sprintf("%s %s -> %s", name, from, u.To), Targets: []string{name}, From: from, To: u.To,
			Do: func(ctx context.Context, p *disruption.Progress) error {
				before := leaseHolder(ctx, client, name)
				if err := c.Replace(ctx, name, u.To, p.Stopped); err != nil {
					return err
				}
				if err := waitLeaseTaken(ctx, client, name, before); err != nil {
					return err
				}
				p.Ready()
				return nil
			},
		})
	}
	return disruption.Plan{Kind: results.DisruptionUpgrade, Spec: u.Spec, At: u.At, Settings: settings, Steps: steps}
}

// checkServing asks one API server, not the load balancer, which release
// it serves.
func checkServing(cfg *rest.Config, serverURL, want string) error {
	c := rest.CopyConfig(cfg)
	c.Host = serverURL
	c.Timeout = 10 * time.Second
	dc, err := discovery.NewDiscoveryClientForConfig(c)
	if err != nil {
		return fmt.Errorf("discovery client for %s: %w", serverURL, err)
	}
	v, err := dc.ServerVersion()
	if err != nil {
		return fmt.Errorf("reading the served version at %s: %w", serverURL, err)
	}
	if v.GitVersion != want {
		return fmt.Errorf("serves %s after the upgrade, want %s", v.GitVersion, want)
	}
	return nil
}

// leaseHolder is the holder of a controller's leader lease in kube-system,
// "" when there is none yet.
func leaseHolder(ctx context.Context, client kubernetes.Interface, name string) string {
	l, err := client.CoordinationV1().Leases(metav1.NamespaceSystem).Get(ctx, name, metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// waitLeaseTaken waits until a holder other than before holds the lease:
// the replaced controller has taken over and runs its controllers again.
func waitLeaseTaken(ctx context.Context, client kubernetes.Interface, name, before string) error {
	ctx, cancel := context.WithTimeout(ctx, leaderHandoverTimeout)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		l, err := client.CoordinationV1().Leases(metav1.NamespaceSystem).Get(ctx, name, metav1.GetOptions{})
		switch {
		case err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "" && *l.Spec.HolderIdentity != before:
			return nil
		case err == nil:
			lastErr = errors.New("still held by the replaced instance")
		case apierrors.IsNotFound(err):
			lastErr = errors.New("no lease yet")
		default:
			lastErr = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not take its leader lease kube-system/%s: %v", name, name, lastErr)
		case <-tick.C:
		}
	}
}
