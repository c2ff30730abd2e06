package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/churn-dev/churn/agents"
	"github.com/churn-dev/churn/churn"
)

const agentsLong = `Run one shard of the emulated per-node mesh agents (istio-cni,
cilium-agent) for runs started with 'churn run --agents external', so that
a thousand agents can be spread over many processes or pods.

A run with --agents external does the mesh setup and runs the central
components (istiod, cilium-operator) itself, then announces its per-node
agents: a ConfigMap named churn-agents in its mesh namespace
(churn-mesh-<run-id>), labelled with the run's labels and
churn.dev/agents=external, giving the mesh and the run ID. Each shard
watches for announcements, lists the run's nodes by the run label
(churn.dev/run=<run-id>, app.kubernetes.io/managed-by=churn), takes its
share by a hash of the node name (every node lands in exactly one of the
TOTAL shards) and runs their agents, as the run's per-node service accounts
(the run grants the shards' service account, churn/churn-agents, the right
to impersonate them). It acts on nothing that lacks the run's labels.

When the run stops it marks the announcement; each shard stops its agents,
logs their counters (events, re-lists, writes) and writes them into the
announcement, and the run sums them into its results. A shard also ends a
run whose announcement or nodes are gone, then waits for the next one.
Several runs may be served at once.

In a StatefulSet, pod i runs --shard i/TOTAL (deploy/agents).`

func newAgentsCommand(logger *zap.Logger) *cobra.Command {
	var (
		shardFlag  string
		mesh       string
		runID      string
		kubeconfig string
		kubeCtx    string
		inCluster  bool
	)
	cmd := &cobra.Command{
		Use:   "agents --shard INDEX/TOTAL",
		Short: "Run a share of the emulated per-node mesh agents of runs started with --agents external",
		Long:  agentsLong,
		Example: `  churn agents --shard 0/2 --kubeconfig .churn/cluster/admin.kubeconfig
  churn agents --in-cluster --mesh cilium --shard 3/4`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			shard, err := agents.ParseShard(shardFlag)
			if err != nil {
				return fmt.Errorf("--shard %s: %w", shardFlag, err)
			}
			if mesh != "" {
				if err := checkPerNodeMesh(mesh); err != nil {
					return fmt.Errorf("--mesh %s: %w", mesh, err)
				}
			}
			cfg, err := clusterRESTConfig(kubeconfig, kubeCtx, inCluster)
			if err != nil {
				return err
			}
			return agents.ServeShard(cmd.Context(), agents.ShardConfig{
				RESTConfig: cfg, Shard: shard, Mesh: mesh, RunID: runID,
				RunLabels: churn.RunLabels, Logger: logger,
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&shardFlag, "shard", "", "this shard and the number of shards, INDEX/TOTAL with 0 <= INDEX < TOTAL, e.g. 0/4 (required)")
	f.StringVar(&mesh, "mesh", "", "serve only runs of this mesh: istio-ambient, cilium, cilium-ces (default: any)")
	f.StringVar(&runID, "run", "", "serve only this run ID (default: every announced run)")
	f.StringVar(&kubeconfig, "kubeconfig", "", "cluster to serve (default $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&kubeCtx, "context", "", "kubeconfig context to use")
	f.BoolVar(&inCluster, "in-cluster", false, "use the pod's service account (in a StatefulSet)")
	_ = cmd.MarkFlagRequired("shard")
	return cmd
}

// checkPerNodeMesh accepts the meshes that have per-node agents.
func checkPerNodeMesh(name string) error {
	spec, err := agents.Spec(name)
	if err != nil {
		return err
	}
	for _, c := range spec.Components {
		if c.PerNode {
			return nil
		}
	}
	return fmt.Errorf("mesh %s has no per-node agents", name)
}
