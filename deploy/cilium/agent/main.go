// Command cilium-agent is Cilium's agent (the pinned release in ../go.mod)
// with its datapath replaced by Cilium's own fake one, so that it can run
// for a KWOK node: the same control-plane cells, Kubernetes clients,
// watchers, identity allocation, CiliumNode and CiliumEndpoint writers and
// REST API as the shipped agent, and no BPF programs, maps, devices,
// routes or iptables rules.
//
// It is assembled the way Cilium's test/controlplane suite assembles its
// agent (the control plane plus the fake datapath in dry mode), with the
// agent's real infrastructure (Kubernetes client, API server on a unix
// socket) so that a CNI stand-in can create endpoints through the API.
//
// Several agents can run on one machine: give each its own mount namespace
// (churn starts it with CLONE_NEWNS) and --churn-private-run-dir, which
// this program bind-mounts over Cilium's fixed run directory
// (/var/run/cilium: pid file, CNI deletion queue lock, health and monitor
// sockets), so nothing of one agent is seen by another or left on the host.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/cilium/cilium/daemon/cmd"
	fakeDatapath "github.com/cilium/cilium/pkg/datapath/fake"
	"github.com/cilium/cilium/pkg/defaults"
	"github.com/cilium/cilium/pkg/envoy"
	"github.com/cilium/cilium/pkg/hive"
	"github.com/cilium/cilium/pkg/hive/cell"
	"github.com/cilium/cilium/pkg/labelsfilter"
	"github.com/cilium/cilium/pkg/maps/ctmap/gc"
	monitorAgent "github.com/cilium/cilium/pkg/monitor/agent"
	"github.com/cilium/cilium/pkg/option"
	"github.com/cilium/cilium/pkg/policy"
)

const privateRunDirFlag = "churn-private-run-dir"

func main() {
	if err := newCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "cilium-agent:", err)
		os.Exit(1)
	}
}

func newCommand() *cobra.Command {
	h := hive.New(
		// In place of the real datapath.Cell: what the control plane
		// needs from a datapath, without touching the kernel. First, so
		// its state tables are registered before any invoke uses them.
		fakeDatapath.Cell,
		monitorAgent.Cell,
		cell.Provide(func() gc.Enabler { return gc.NewFake() }),
		cmd.Infrastructure,
		cmd.ControlPlane,
	)
	var privateRunDir string
	root := &cobra.Command{
		Use:   "cilium-agent",
		Short: "Cilium's agent without a datapath, for a KWOK node (built for churn)",
		// Errors are printed once by main.
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(*cobra.Command, []string) error {
			if privateRunDir != "" {
				if err := mountPrivateRunDir(privateRunDir); err != nil {
					return err
				}
			}
			if err := prepare(h); err != nil {
				return err
			}
			return h.Run()
		},
	}
	root.Flags().StringVar(&privateRunDir, privateRunDirFlag, "",
		"Directory bind-mounted over "+defaults.RuntimePath+" (needs a private mount namespace)")
	h.RegisterFlags(root.Flags())
	cmd.InitGlobalFlags(root, h.Viper())
	cobra.OnInitialize(
		option.InitConfig(root, "cilium-agent", "cilium", h.Viper()),
		func() { option.Config.Populate(h.Viper()) },
	)
	return root
}

// prepare does what the shipped agent's start-up does for the control
// plane, minus its kernel checks (clang, BPF filesystem, cgroup mount,
// memlock), which only the datapath needs.
func prepare(h *hive.Hive) error {
	cfg := option.Config
	cfg.DryMode = true
	cfg.BpfDir = filepath.Join(cfg.LibDir, defaults.BpfDir)
	cfg.StateDir = filepath.Join(cfg.RunDir, defaults.StateDir)
	for _, dir := range []string{cfg.RunDir, cfg.StateDir, cfg.LibDir, envoy.GetSocketDir(cfg.RunDir), filepath.Dir(cfg.SocketPath)} {
		if err := os.MkdirAll(dir, defaults.RuntimePathRights); err != nil {
			return fmt.Errorf("creating %s: %w", dir, err)
		}
	}
	if err := os.Remove(cfg.SocketPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing the old API socket: %w", err)
	}
	if !cfg.EnableIPv4 && !cfg.EnableIPv6 {
		return errors.New("either IPv4 or IPv6 addressing must be enabled")
	}
	if cfg.EnableL7Proxy {
		return errors.New("--enable-l7-proxy needs the datapath; pass --enable-l7-proxy=false")
	}
	cfg.Opts.SetBool(option.DropNotify, true)
	cfg.Opts.SetBool(option.TraceNotify, true)
	cfg.Opts.SetBool(option.PolicyVerdictNotify, true)
	cfg.Opts.SetBool(option.ConntrackAccounting, true)
	cfg.Opts.SetBool(option.SourceIPVerification, true)
	policy.SetPolicyEnabled(cfg.EnablePolicy)
	if err := labelsfilter.ParseLabelPrefixCfg(cfg.Labels, cfg.LabelPrefixFile); err != nil {
		return fmt.Errorf("label prefixes: %w", err)
	}
	if err := cfg.Validate(h.Viper()); err != nil {
		return fmt.Errorf("invalid agent configuration: %w", err)
	}
	return nil
}

// mountPrivateRunDir bind-mounts dir over Cilium's fixed run directory. The
// process must already be in a mount namespace of its own whose mounts do
// not propagate back (Go's CLONE_NEWNS start-up makes / private).
func mountPrivateRunDir(dir string) error {
	own, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return fmt.Errorf("reading the mount namespace: %w", err)
	}
	if initial, err := os.Readlink("/proc/1/ns/mnt"); err == nil && initial == own {
		return fmt.Errorf("--%s needs a mount namespace of its own; this process shares the host's", privateRunDirFlag)
	}
	if err := os.MkdirAll(dir, defaults.RuntimePathRights); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := os.MkdirAll(defaults.RuntimePath, defaults.RuntimePathRights); err != nil {
		return fmt.Errorf("creating %s: %w", defaults.RuntimePath, err)
	}
	if err := unix.Mount(dir, defaults.RuntimePath, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind-mounting %s over %s (start the agent in a mount namespace of its own): %w", dir, defaults.RuntimePath, err)
	}
	return nil
}
