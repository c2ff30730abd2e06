// Package cli holds churn's cobra commands. Each command is built by one
// constructor that receives the context and logger from main.
package cli

import (
	"github.com/spf13/cobra"
	"go.uber.org/zap"
)

const rootLong = `churn is a control-plane scale chaos tester for Kubernetes.

It runs a real control plane (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler) with KWOK fake nodes locally, or targets any cluster given a
kubeconfig; scales deployments every second; runs emulated mesh control
planes (istiod, istio-cni, cilium-agent, cilium-operator) against it; and
judges the API server against the Kubernetes scalability SLOs.

Exit status:
  0    every SLO held
  1    churn itself failed (setup, bad input, an observer broke)
  2    an SLO was breached (the gate)
  3    inconclusive: the simulator (kwok, churn's engine or its emulated
       agents) fell behind, so the SLO figures are not the API server's alone
  130  interrupted`

// NewRootCommand builds the churn command tree.
func NewRootCommand(logger *zap.Logger) *cobra.Command {
	cmd := &cobra.Command{
		Use:           "churn",
		Short:         "Control-plane scale chaos tester for Kubernetes",
		Long:          rootLong,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.AddCommand(
		newRunCommand(logger),
		newAgentsCommand(logger),
		newProfilesCommand(),
		newReportCommand(),
		newCompareCommand(logger),
		newUpCommand(logger),
		newDownCommand(logger),
		newStatusCommand(),
		newVersionCommand(),
		newSnapshotCommand(logger),
		newGCCommand(logger),
		newCleanupCommand(logger),
		newHistoryCommand(logger),
	)
	return cmd
}
