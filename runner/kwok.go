package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/churn-dev/churn/deploy/kwok"
	"github.com/churn-dev/churn/target"
)

// KWOK modes of a remote target (Options.KWOK).
const (
	// KWOKExternal uses a kwok controller already running on the cluster
	// (kubectl apply -k deploy/kwok, or the user's own with the same
	// annotation selector). The default.
	KWOKExternal = "external"
	// KWOKInstall installs deploy/kwok for the run and removes it at
	// teardown.
	KWOKInstall = "install"
)

// kwokAvailableTimeout bounds the wait for an installed kwok controller:
// pulling its image on a fresh node is the slow part.
const kwokAvailableTimeout = 5 * time.Minute

// ValidateTarget checks the target options on their own, before anything
// runs: --in-cluster and --kubeconfig exclude each other, and --kwok install
// needs a remote target (the local control plane always runs its own kwok);
// then the control plane's extra arguments and CPU budget.
func ValidateTarget(o Options) error {
	if o.InCluster && o.Kubeconfig != "" {
		return fmt.Errorf("--in-cluster and --kubeconfig exclude each other")
	}
	if remote := o.InCluster || o.Kubeconfig != ""; remote {
		d := o.Profile.Disruptions
		switch {
		case len(d.Faults) > 0:
			return fmt.Errorf("--fault %s: faults kill processes of the local control plane; a --kubeconfig or --in-cluster cluster is not churn's to kill", d.Faults[0])
		case d.Upgrade != "":
			return fmt.Errorf("--upgrade %s: upgrades replace the processes of the local control plane; a --kubeconfig or --in-cluster cluster is not churn's to upgrade", d.Upgrade)
		case o.Profile.ControlPlane.APIServers > 1:
			return fmt.Errorf("--apiservers %d: the local control plane's; a --kubeconfig or --in-cluster cluster runs its own", o.Profile.ControlPlane.APIServers)
		}
	}
	if err := CheckUpgrade(o); err != nil {
		return err
	}
	switch o.KWOK {
	case "", KWOKExternal:
	case KWOKInstall:
		if !o.InCluster && o.Kubeconfig == "" {
			return fmt.Errorf("--kwok %s needs a cluster of yours (--kubeconfig or --in-cluster): the local control plane always runs churn's own kwok", KWOKInstall)
		}
	default:
		return fmt.Errorf("--kwok %q: want %s or %s", o.KWOK, KWOKExternal, KWOKInstall)
	}
	if err := ValidateControlPlaneArgs(o); err != nil {
		return err
	}
	return ValidateControlPlaneCPUs(o)
}

// remoteTarget resolves --in-cluster or --kubeconfig and enforces the
// remote opt-in.
func remoteTarget(o Options) (*target.Target, error) {
	var (
		t   *target.Target
		err error
	)
	if o.InCluster {
		t, err = target.InCluster()
	} else {
		t, err = target.FromKubeconfig(o.Kubeconfig, o.Context)
	}
	if err != nil {
		return nil, err
	}
	if err := t.CheckAllowed(o.AllowRemote); err != nil {
		return nil, err
	}
	return t, nil
}

func (r *run) installsKWOK() bool {
	return r.opts.KWOK == KWOKInstall && r.target != nil && r.target.Remote()
}

// kwokPermissions are what the preflight adds for --kwok install.
func (r *run) kwokPermissions() []target.Permission {
	if !r.installsKWOK() {
		return nil
	}
	return target.KWOKInstallPermissions(kwok.DefaultNamespace)
}

func (r *run) printKWOKPlan() {
	if !r.target.Remote() {
		return
	}
	if r.installsKWOK() {
		fmt.Fprintf(r.progress(), "  will install the kwok controller in %s (Deployment %s, its ServiceAccount, ConfigMap and RBAC; label %s=%s), removed at teardown\n",
			kwok.DefaultNamespace, kwok.DeploymentName, kwok.LabelRun, r.labelID)
		return
	}
	fmt.Fprintf(r.progress(), "  fake nodes need a kwok controller already on the cluster managing nodes annotated kwok.x-k8s.io/node=fake (kubectl apply -k deploy/kwok, or --kwok install)\n")
}

// installKWOK installs the kwok controller before fake nodes are created
// and waits until it runs, so a controller that cannot start is reported
// as such rather than as nodes that never turn Ready.
func (r *run) installKWOK(ctx context.Context) error {
	if !r.installsKWOK() {
		return nil
	}
	fmt.Fprintf(r.progress(), "installing the kwok controller in %s\n", kwok.DefaultNamespace)
	if err := kwok.Install(ctx, r.target.Config, kwok.DefaultNamespace, kwok.RunLabels(r.labelID)); err != nil {
		return err
	}
	if err := kwok.WaitAvailable(ctx, r.client, kwok.DefaultNamespace, kwokAvailableTimeout); err != nil {
		return err
	}
	fmt.Fprintf(r.progress(), "kwok controller available\n")
	return nil
}
