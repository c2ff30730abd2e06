package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/churn-dev/churn/agents"
	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/runner"
	"github.com/churn-dev/churn/snapshot"
	"github.com/churn-dev/churn/version"
)

const snapshotLong = `Save a run's setup once and start later runs from it.

A setup of 50k-pods (1,000 fake nodes, 50,000 pods Ready) takes tens of
minutes on a small machine. "churn snapshot save NAME --profile P" does that
setup once on a fresh local control plane, exactly as churn run does, then
stops the control plane and keeps its etcd data and certificates in
` + snapshot.DefaultRoot + `/NAME with a manifest. "churn run --from-snapshot NAME"
copies it into a new cluster directory, starts the control plane on it and
goes straight to the mesh and churn phases; the snapshot itself is never
changed, so it serves any number of runs.

A run uses a snapshot only if it stands in exactly for the run's own setup:
the same etcd, Kubernetes and kwok versions in --bin-dir, and the same setup
(nodes, workload shape, image, and the objects this churn builds from them).
Anything else is refused before starting, naming what differs. The seed,
the churn and the SLOs are free: one snapshot serves them all. So is the
mesh, for a snapshot saved without one (each run pays its mesh's install).
A snapshot saved with --mesh holds that mesh's objects, settled, and serves
only runs of that mesh, whose install phase then finds them present.

NAME is a name under ` + snapshot.DefaultRoot + ` or, with a '/', a directory path.`

func newSnapshotCommand(logger *zap.Logger) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Save a setup once and warm-start runs from it",
		Long:  snapshotLong,
	}
	cmd.AddCommand(
		newSnapshotSaveCommand(logger),
		newSnapshotListCommand(),
		newSnapshotShowCommand(),
		newSnapshotDeleteCommand(),
		newSnapshotVerifyStartCommand(logger),
	)
	return cmd
}

func newSnapshotSaveCommand(logger *zap.Logger) *cobra.Command {
	var (
		profileName string
		nodes       int
		seed        int64
		cpus        string
		mesh        string
		settle      time.Duration
		opts        runner.Options
	)
	cmd := &cobra.Command{
		Use:   "save NAME --profile NAME|FILE",
		Short: "Set up a profile on a fresh local control plane and save it",
		Long: `Start a fresh local control plane, create the profile's fake nodes and
workload exactly as churn run does, wait until every node and replica is
Ready, then compact etcd, stop the control plane and save its data and
certificates with a manifest (setup hash, run labels, component versions,
object counts, sizes, setup figures).

Nothing of a save is measured, so its kube-apiserver runs with GOGC=400 and
its kube-scheduler without the default topology spread constraints: both
cost CPU a 2-core ramp needs. Runs started from the snapshot use the
defaults.

With --mesh, the mesh's emulated agents start once the fake nodes are Ready
and before the workload, as the public test installed the mesh first and
deployed workloads after it, so they write their objects (CRDs,
CiliumNodes, CiliumEndpoints, identities, root-cert ConfigMaps...) while the
workload ramps. After the ramp the save waits for the mesh to settle (the
install phase's conditions, bounded by --settle-timeout; a mesh that does
not settle is not saved), stops the agents and saves their objects with the
setup, carrying the snapshot's run label. Such a snapshot serves only runs
of the same mesh, whose agents start as a DaemonSet rollout on a cluster
where the mesh already ran: they list and watch as at any start and adopt
the objects instead of creating them, so the install phase no longer pays
the storm. A snapshot without --mesh serves every mesh, each run paying its
own install.`,
		Example: `  churn snapshot save 50k --profile 50k-pods
  churn run --from-snapshot 50k --profile 50k-pods --mesh cilium
  churn snapshot save 50k-cilium --profile 50k-pods --mesh cilium
  churn run --from-snapshot 50k-cilium --profile 50k-pods --mesh cilium`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			var o profiles.Overrides
			if cmd.Flags().Changed("nodes") {
				o.Nodes = &nodes
			}
			if cmd.Flags().Changed("seed") {
				o.Seed = &seed
			}
			cpusOverride, err := controlPlaneCPUsOverride(cmd, cpus)
			if err != nil {
				return err
			}
			o.ControlPlaneCPUs = cpusOverride
			if cmd.Flags().Changed("mesh") {
				o.Mesh = &mesh
			}
			if cmd.Flags().Changed("settle-timeout") {
				o.SettleTimeout = &settle
			}
			p, err := profiles.Resolve(profileName, o, observers.Known)
			if err != nil {
				return fmt.Errorf("--profile %s: %w", profileName, err)
			}
			if err := checkSaveMesh(p); err != nil {
				return err
			}
			if err := runner.ValidateControlPlaneCPUs(runner.Options{Profile: p}); err != nil {
				return err
			}
			dir, name, err := snapshot.Locate(snapshot.DefaultRoot, args[0])
			if err != nil {
				return err
			}
			if _, err := os.Stat(dir); err == nil {
				return fmt.Errorf("snapshot %s already exists in %s; delete it first (churn snapshot delete %s)", name, dir, args[0])
			}
			bins, err := local.BinaryVersions(ctx, opts.BinDir, opts.KubernetesVersion)
			if err != nil {
				return err
			}
			versions, err := snapshot.VersionsOf(bins, version.Churn)
			if err != nil {
				return fmt.Errorf("--bin-dir %s: %w", opts.BinDir, err)
			}
			setup, err := runner.SaveSetupIdentity(ctx, p)
			if err != nil {
				return err
			}
			// The save's own cluster lives next to the snapshot, so the
			// data is moved, not copied, into it.
			opts.ClusterDir = filepath.Join(filepath.Dir(dir), "."+name+".cluster")
			if err := clearSaveCluster(cmd, opts.ClusterDir, logger); err != nil {
				return err
			}
			opts.Profile, opts.Logger, opts.Progress = p, logger, out
			prep, err := runner.SetUp(ctx, opts)
			if err != nil {
				return fmt.Errorf("setting up %s for snapshot %s (control-plane logs in %s): %w", p.Name, name, filepath.Join(opts.ClusterDir, "logs"), err)
			}
			m, err := snapshot.Save(ctx, snapshot.SaveInput{
				Dir: dir, Name: name, Cluster: prep.Cluster,
				Profile: p, Setup: setup, Versions: versions,
				RunID: prep.RunID, RunLabels: prep.Labels, NamePrefix: prep.NamePrefix,
				SetupSummary: prep.Setup, SetupSeconds: prep.Seconds, Mesh: prep.Mesh,
				Logger: logger, Progress: out,
			})
			if err != nil {
				return err
			}
			if w := runner.NodeHealthWarning(prep.Setup.NodeHealth); w != "" {
				fmt.Fprintln(out, w)
			}
			if s := m.SetupSummary; s != nil {
				fmt.Fprintf(out, "setup: %d nodes and %d pods Ready in %.1f s (ramp %.1f s, %.1f pods/s); setup hash %s\n",
					m.Objects.Nodes, m.Objects.Pods, m.SetupSeconds, s.RampSeconds, s.PodsPerSec, snapshot.ShortHash(m.SetupHash))
			}
			if ms := m.Mesh; ms != nil && ms.Install != nil {
				fmt.Fprintf(out, "mesh %s saved settled (%.1f s after the ramp); only runs with --mesh %s start from it\n", ms.Name, ms.Install.Seconds, ms.Name)
				fmt.Fprintf(out, "start runs from it with: churn run --from-snapshot %s --profile %s --mesh %s\n", args[0], profileName, ms.Name)
				return nil
			}
			fmt.Fprintf(out, "start runs from it with: churn run --from-snapshot %s --profile %s\n", args[0], profileName)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&profileName, "profile", "smoke", "built-in profile name (see: churn profiles) or a profile YAML file")
	f.IntVar(&nodes, "nodes", 0, "override the number of fake nodes")
	f.Int64Var(&seed, "seed", 0, "override the seed (recorded only: the setup does not depend on it)")
	f.StringVar(&opts.BinDir, "bin-dir", defaultBinDir, "directory with the control-plane binaries (built by make controlplane)")
	f.StringVar(&opts.KubernetesVersion, "kubernetes-version", "", "set up on this pinned Kubernetes release (default "+version.Kubernetes+")")
	registerControlPlaneCPUs(f, &cpus, "", "; overrides the profile's controlPlane.cpus (default auto) for the save's ramp")
	f.StringVar(&mesh, "mesh", "", "run this mesh's emulated agents during the ramp and save their objects settled: "+strings.Join(agents.Meshes(), ", ")+" (default none: the snapshot serves every mesh)")
	f.DurationVar(&settle, "settle-timeout", 0, "with --mesh: how long the save waits after the ramp for the mesh to settle before giving up without saving (default the profile's mesh.settleTimeout, 5m)")
	return cmd
}

// checkSaveMesh refuses a mesh setting a save cannot honour: it saves what
// the emulated agents wrote, settled, so it needs a settle timeout and
// emulated components.
func checkSaveMesh(p profiles.Profile) error {
	if p.Mesh.Name == "" || p.Mesh.Name == profiles.MeshNone {
		return nil
	}
	if p.Mesh.SettleTimeout.Duration <= 0 {
		return fmt.Errorf("--settle-timeout %s with --mesh %s: a save waits for the mesh to settle before saving; give a positive timeout", p.Mesh.SettleTimeout.Duration, p.Mesh.Name)
	}
	if p.Mesh.Cilium == profiles.CiliumReal || p.Mesh.Istiod == profiles.IstiodReal {
		return fmt.Errorf("profile %s: mesh.cilium or mesh.istiod is real: a save runs the emulated mesh only", p.Name)
	}
	return nil
}

// clearSaveCluster removes what a save that died left in its cluster
// directory, refusing while a save of the same name still runs there.
func clearSaveCluster(cmd *cobra.Command, dir string, logger *zap.Logger) error {
	st, err := local.StatusReport(dir)
	if err == nil && st.OwnerAlive {
		return fmt.Errorf("another churn (pid %d) is saving into %s; wait for it or stop it", st.OwnerPID, dir)
	}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := local.Down(withoutCancel(cmd), dir, false, logger); err != nil {
		return fmt.Errorf("cleaning up the cluster of an earlier save in %s: %w", dir, err)
	}
	return nil
}

func newSnapshotListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list [DIR]",
		Short: "List the saved snapshots (default in " + snapshot.DefaultRoot + ")",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			root := snapshot.DefaultRoot
			if len(args) == 1 {
				root = args[0]
			}
			entries, err := snapshot.List(root)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(entries) == 0 {
				fmt.Fprintf(out, "no snapshots in %s\n", root)
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tPROFILE\tMESH\tNODES\tPODS\tSETUP HASH\tKUBERNETES\tSIZE\tSETUP\tPODS/S\tCREATED")
			for _, e := range entries {
				if e.Err != nil {
					fmt.Fprintf(tw, "%s\t(unreadable: %v)\n", filepath.Base(e.Dir), e.Err)
					continue
				}
				m := e.Manifest
				podsPerSec := 0.0
				if m.SetupSummary != nil {
					podsPerSec = m.SetupSummary.PodsPerSec
				}
				mesh := m.MeshName()
				if mesh == "" {
					mesh = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%.1f\t%s\n", m.Name, m.ProfileName, mesh, m.Objects.Nodes, m.Objects.Pods,
					snapshot.ShortHash(m.SetupHash), m.Versions.Kubernetes, snapshot.FormatBytes(m.Sizes.TotalBytes),
					time.Duration(m.SetupSeconds*float64(time.Second)).Round(time.Second), podsPerSec, m.Created.Local().Format(time.DateTime))
			}
			return tw.Flush()
		},
	}
}

func newSnapshotShowCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Print a snapshot's manifest",
		Long: `Print a snapshot's manifest as JSON, or with --format a Go template over it,
e.g. --format '{{.SetupSummary.PodsPerSec}}' or '{{.SetupSeconds}}'.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, m, err := snapshot.Open(snapshot.DefaultRoot, args[0])
			if err != nil {
				return err
			}
			return printFormatted(cmd.OutOrStdout(), format, m)
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "Go template over the manifest (default: indented JSON)")
	return cmd
}

func newSnapshotDeleteCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a snapshot (only what churn snapshot save wrote)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := snapshot.Delete(snapshot.DefaultRoot, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "snapshot %s deleted\n", args[0])
			return nil
		},
	}
}

func newSnapshotVerifyStartCommand(logger *zap.Logger) *cobra.Command {
	var (
		opts   runner.Options
		format string
	)
	cmd := &cobra.Command{
		Use:   "verify-start NAME",
		Short: "Warm-start a snapshot, wait until it is Ready, report the time and stop",
		Long: `Do what churn run --from-snapshot does before its mesh and churn phases:
verify the snapshot against its own profile and the binaries, copy it into a
fresh cluster directory, start the control plane, wait until every node and
replica is Ready, print the warm-start time, then stop and remove the copy.
--format prints a Go template over the warm start instead, e.g.
'{{.Seconds}}' (fields: Seconds, RestoreSeconds, ControlPlaneSeconds,
ReadySeconds, RestoredBytes).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			_, m, err := snapshot.Open(snapshot.DefaultRoot, args[0])
			if err != nil {
				return err
			}
			progress := cmd.OutOrStdout()
			if format != "" {
				progress = cmd.ErrOrStderr()
			}
			opts.Profile, opts.FromSnapshot, opts.Logger, opts.Progress = m.Profile, args[0], logger, progress
			prep, err := runner.SetUp(ctx, opts)
			if err != nil {
				return err
			}
			if err := prep.Cluster.Stop(withoutCancel(cmd), false); err != nil {
				return fmt.Errorf("stopping the warm-started control plane: %w", err)
			}
			if format == "" {
				return nil // SetUp printed the warm start
			}
			return printFormatted(cmd.OutOrStdout(), format, prep.Setup.WarmStart)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.ClusterDir, "dir", "", "cluster directory to restore into (default .churn/runs/<run-id>)")
	f.StringVar(&opts.BinDir, "bin-dir", defaultBinDir, "directory with the control-plane binaries (built by make controlplane)")
	f.StringVar(&opts.KubernetesVersion, "kubernetes-version", "", "start this pinned Kubernetes release (default "+version.Kubernetes+")")
	f.StringVar(&format, "format", "", "print a Go template over the warm start instead of progress (progress goes to stderr)")
	return cmd
}

// printFormatted writes v as indented JSON, or through the Go template
// format followed by a newline.
func printFormatted(w io.Writer, format string, v any) error {
	if format == "" {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	t, err := template.New("format").Option("missingkey=error").Parse(format)
	if err != nil {
		return fmt.Errorf("--format: %w", err)
	}
	if err := t.Execute(w, v); err != nil {
		return fmt.Errorf("--format: %w", err)
	}
	_, err = fmt.Fprintln(w)
	return err
}
