package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/report"
	"github.com/churn-dev/churn/runner"
	"github.com/churn-dev/churn/snapshot"
)

// armsFlags are churn compare's flags for running arms side by side.
type armsFlags struct {
	workload    workloadFlags
	meshes      []string
	k8sVersions []string
	out         string
	clusterDir  string
	binDir      string
	// fromSnapshot warm-starts every arm from this saved setup, or, as
	// MESH=NAME,..., each mesh arm from its own (see snapshotsByMesh).
	fromSnapshot string
	// apiServerArms are the --apiserver-args values, one arm each.
	apiServerArms []string
	// repeat runs every arm this many times, interleaved; junit is the
	// JUnit XML file to write.
	repeat    int
	junit     string
	tolerance float64
}

// armSpec is one arm before it runs.
type armSpec struct {
	name    string
	profile profiles.Profile
	k8s     string
	// fromSnapshot is the snapshot the arm warm-starts from, checked
	// against its profile and binaries; "" for a full setup.
	fromSnapshot string
	// dir names the arm's results and cluster directories: its name, or
	// for an arm of arguments a form of it safe as a file name.
	dir string
	// repeat is the arm's run number with --repeat (1-based), else 0.
	repeat int
}

// planArms turns the flags into arms: one per mesh, one per Kubernetes
// release, or one per set of kube-apiserver arguments, never two of these
// at once, so each comparison changes exactly one thing.
func (a *armsFlags) planArms(cmd *cobra.Command) ([]armSpec, map[string]string, error) {
	meshes, versions := nonEmpty(a.meshes), nonEmpty(a.k8sVersions)
	// One --rollout applies to every arm; several make one arm each.
	rolloutArms := nonEmpty(a.workload.rollouts)
	argArms, err := parseArgArms(a.apiServerArms)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case len(argArms) > 0 && (len(meshes) > 1 || len(versions) > 1):
		return nil, nil, fmt.Errorf("--apiserver-args arms with --mesh %s or --kubernetes-version %s: vary one thing per comparison; give a single mesh and release with the argument arms",
			strings.Join(meshes, ","), strings.Join(versions, ","))
	case len(argArms) == 1:
		return nil, nil, fmt.Errorf("--apiserver-args %q is one arm: give the flag once per arm, e.g. --apiserver-args default --apiserver-args=%s", a.apiServerArms[0], orDefault(argArms[0].label, defaultArm))
	case len(meshes) > 1 && len(versions) > 1:
		return nil, nil, fmt.Errorf("--mesh %s and --kubernetes-version %s: vary one of them per comparison, not both",
			strings.Join(meshes, ","), strings.Join(versions, ","))
	case len(rolloutArms) > 1 && (len(meshes) > 1 || len(versions) > 1 || len(argArms) > 0):
		return nil, nil, fmt.Errorf("--rollout arms (%s) with other arms (--mesh, --kubernetes-version or --apiserver-args): vary one thing per comparison; give a single mesh and release with the rollout arms",
			strings.Join(rolloutArms, " and "))
	case len(meshes) < 2 && len(versions) < 2 && len(argArms) < 2 && len(rolloutArms) < 2:
		return nil, nil, errors.New("--profile runs arms side by side: give at least two meshes (--mesh istio-ambient,cilium), two releases (--kubernetes-version v1.36.3,v1.37.2), two sets of kube-apiserver arguments (--apiserver-args default --apiserver-args=--max-requests-inflight=50) or two rollouts (--rollout cilium-agent@3m,maxUnavailable=2 --rollout cilium-agent@3m,maxUnavailable=50%); to compare two existing runs pass their directories instead")
	}
	perMesh, err := a.snapshotsByMesh(meshes)
	if err != nil {
		return nil, nil, err
	}
	if a.fromSnapshot != "" {
		if err := a.checkSnapshotReleases(versions, perMesh); err != nil {
			return nil, nil, err
		}
	}
	var mesh *string
	if len(meshes) == 1 {
		mesh = &meshes[0]
	}
	var arms []armSpec
	var slos map[string]string
	add := func(name string, mesh *string, k8s string, apiServerArgs []string, rollout string) error {
		if slices.ContainsFunc(arms, func(s armSpec) bool { return s.name == name }) {
			return fmt.Errorf("arm %q given twice", name)
		}
		p, o, err := a.workload.resolve(cmd, mesh)
		if err != nil {
			return fmt.Errorf("arm %s: %w", name, err)
		}
		if len(apiServerArgs) > 0 {
			// The arm's arguments override the profile's flag by flag.
			p = profiles.Overrides{ExtraArgs: map[string][]string{local.APIServer: apiServerArgs}}.Apply(p)
		}
		if rollout != "" {
			// resolve checked every --rollout; the arm runs its own.
			p.Disruptions.Rollouts = []string{rollout}
		}
		if err := runner.ValidateControlPlaneArgs(runner.Options{Profile: p}); err != nil {
			return fmt.Errorf("arm %s: %w", name, err)
		}
		if err := runner.ValidateControlPlaneCPUs(runner.Options{Profile: p}); err != nil {
			return fmt.Errorf("arm %s: %w", name, err)
		}
		if k8s != "" {
			if _, err := local.CheckBinariesFor(a.binDir, k8s); err != nil {
				return fmt.Errorf("--kubernetes-version %s: %w", k8s, err)
			}
		}
		slos = o
		from := a.fromSnapshot
		if perMesh != nil {
			from = perMesh[meshOrNone(p.Mesh.Name)]
		}
		arms = append(arms, armSpec{name: name, profile: p, k8s: k8s, fromSnapshot: from, dir: armDir(name, arms)})
		return nil
	}
	k8s := ""
	if len(versions) == 1 {
		k8s = versions[0]
	}
	for _, m := range meshes {
		if len(meshes) < 2 {
			break
		}
		if err := add(m, &m, k8s, nil, ""); err != nil {
			return nil, nil, err
		}
	}
	if len(versions) > 1 {
		for _, v := range versions {
			if err := add(v, mesh, v, nil, ""); err != nil {
				return nil, nil, err
			}
		}
	}
	for _, arm := range argArms {
		if err := add(orDefault(arm.label, defaultArm), mesh, k8s, arm.args, ""); err != nil {
			return nil, nil, err
		}
	}
	for _, ro := range rolloutArms {
		if len(rolloutArms) < 2 {
			break
		}
		if err := add(ro, mesh, k8s, nil, ro); err != nil {
			return nil, nil, err
		}
	}
	if a.fromSnapshot != "" {
		if err := checkArmsSnapshot(cmd.Context(), a, arms); err != nil {
			return nil, nil, err
		}
	}
	return arms, slos, nil
}

// defaultArm names the arm whose kube-apiserver runs with the profile's
// arguments only.
const defaultArm = "default"

// argArm is one --apiserver-args arm: its arguments and its label, the
// arguments as given, comma separated ("" for the default arm).
type argArm struct {
	label string
	args  []string
}

// parseArgArms reads the --apiserver-args values of churn compare: one arm
// each, written as for churn run; "" or "default" is the default arm.
func parseArgArms(values []string) ([]argArm, error) {
	var arms []argArm
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" || v == defaultArm {
			arms = append(arms, argArm{})
			continue
		}
		args := local.SplitArgs(v)
		for _, arg := range args {
			if err := local.CheckExtraArg(local.APIServer, arg); err != nil {
				return nil, fmt.Errorf("--apiserver-args %q: %w", v, err)
			}
		}
		arms = append(arms, argArm{label: strings.Join(args, ","), args: args})
	}
	return arms, nil
}

// armDir is a directory name for the arm named name: the name itself when
// it is a plain word (a mesh, a release, "default"), else arm-N, N the
// arm's place among the arms from 1. Arguments make poor names: they begin
// with dashes (a shell reads comparison---max-requests-inflight=400.md as
// options) and hold '=', ',' and '/', which CI artifact globs and
// sub-directories trip on; the full arguments stay inside the arm's files
// (results.json, the comparisons). A name that comes out like an earlier
// arm's gets a number.
func armDir(name string, earlier []armSpec) string {
	dir := name
	if !plainWord(name) {
		dir = fmt.Sprintf("arm-%d", len(earlier)+1)
	}
	taken := func(d string) bool {
		return slices.ContainsFunc(earlier, func(s armSpec) bool { return s.dir == d })
	}
	for n, base := 2, dir; taken(dir); n++ {
		dir = fmt.Sprintf("%s-%d", base, n)
	}
	return dir
}

// plainWord is a name safe as it is in a path and a glob: letters, digits
// and ._- only, not starting with a dash or a dot, at most 64 characters.
func plainWord(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '-' || s[0] == '.' {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}

// snapshotsByMesh reads --from-snapshot given per mesh arm, as
// none=50k,cilium=50k-cilium: a snapshot saved with a mesh serves only
// that mesh's arm, so a comparison of meshes that starts each arm on its
// own mesh's settled objects names one snapshot per arm. It returns nil
// for a single snapshot (no '='), which every arm starts from. Every mesh
// arm must be named, and only those.
func (a *armsFlags) snapshotsByMesh(meshes []string) (map[string]string, error) {
	if !strings.Contains(a.fromSnapshot, "=") {
		return nil, nil
	}
	if len(meshes) < 2 {
		return nil, fmt.Errorf("--from-snapshot %s names a snapshot per mesh: it needs mesh arms (--mesh none,cilium); give one snapshot name for other arms", a.fromSnapshot)
	}
	out := map[string]string{}
	for _, pair := range strings.Split(a.fromSnapshot, ",") {
		mesh, name, ok := strings.Cut(strings.TrimSpace(pair), "=")
		mesh = meshOrNone(strings.TrimSpace(mesh))
		name = strings.TrimSpace(name)
		switch {
		case !ok || name == "":
			return nil, fmt.Errorf("--from-snapshot %s: %q is not MESH=SNAPSHOT", a.fromSnapshot, pair)
		case !slices.Contains(meshes, mesh) && !(mesh == profiles.MeshNone && slices.Contains(meshes, "")):
			return nil, fmt.Errorf("--from-snapshot %s names mesh %s, which is not one of the arms (--mesh %s)", a.fromSnapshot, mesh, strings.Join(meshes, ","))
		}
		if _, dup := out[mesh]; dup {
			return nil, fmt.Errorf("--from-snapshot %s names mesh %s twice", a.fromSnapshot, mesh)
		}
		out[mesh] = name
	}
	for _, mesh := range meshes {
		if _, ok := out[meshOrNone(mesh)]; !ok {
			return nil, fmt.Errorf("--from-snapshot %s names no snapshot for the %s arm; give MESH=SNAPSHOT for every arm", a.fromSnapshot, meshOrNone(mesh))
		}
	}
	return out, nil
}

func meshOrNone(mesh string) string {
	if mesh == "" {
		return profiles.MeshNone
	}
	return mesh
}

// checkSnapshotReleases opens each --from-snapshot snapshot and refuses
// Kubernetes releases other than the one it was taken with: a snapshot is
// one release's etcd data, and every arm starts from it.
func (a *armsFlags) checkSnapshotReleases(versions []string, perMesh map[string]string) error {
	names := []string{a.fromSnapshot}
	if perMesh != nil {
		names = names[:0]
		for _, n := range perMesh {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	for _, name := range names {
		_, m, err := snapshot.Open(snapshot.DefaultRoot, name)
		if err != nil {
			return fmt.Errorf("--from-snapshot %s: %w", name, err)
		}
		for _, v := range versions {
			if v != m.Versions.Kubernetes {
				return fmt.Errorf("--kubernetes-version %s with --from-snapshot %s: the snapshot was taken with Kubernetes %s, and every arm starts from its data; compare releases without --from-snapshot, or pass only %s",
					v, name, orDash(m.Versions.Kubernetes), orDash(m.Versions.Kubernetes))
			}
		}
	}
	return nil
}

// checkArmsSnapshot makes, for every arm, the check the run itself makes
// of its snapshot (profile setup, binary versions, run label), so a
// mismatch is refused before the first arm starts rather than when its
// turn comes.
func checkArmsSnapshot(ctx context.Context, a *armsFlags, arms []armSpec) error {
	for _, s := range arms {
		_, _, err := runner.CheckSnapshot(ctx, runner.Options{
			Profile: s.profile, FromSnapshot: s.fromSnapshot, BinDir: a.binDir, KubernetesVersion: s.k8s,
		})
		if err != nil {
			return fmt.Errorf("--from-snapshot %s, arm %s: %w", s.fromSnapshot, s.name, err)
		}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func nonEmpty(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// runArms runs every arm in turn, each on a fresh local control plane, and
// writes the side-by-side comparison. A failed arm keeps its column and the
// next arm still runs; an interrupt stops after writing what ran.
func runArms(cmd *cobra.Command, a *armsFlags, logger *zap.Logger) error {
	if err := checkRepeat(a.repeat); err != nil {
		return err
	}
	specs, slos, err := a.planArms(cmd)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	dir := a.out
	if dir == "" {
		id, err := runner.NewRunID(time.Now())
		if err != nil {
			return err
		}
		dir = filepath.Join("churn-results", "compare-"+id)
	}
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.name
	}
	start := "one fresh local control plane each"
	if a.fromSnapshot != "" {
		start = "each warm-started from snapshot " + a.fromSnapshot
	}
	fmt.Fprintf(out, "Comparing %d arms on profile %s (seed %d), %s: %s\nResults: %s\n",
		len(specs), specs[0].profile.Name, specs[0].profile.Churn.Seed, start, strings.Join(names, ", "), dir)

	var arms []report.Arm
	var interrupted error
	runs := interleave(specs, a.repeat)
	for i, s := range runs {
		fmt.Fprintf(out, "\n=== arm %d/%d: %s ===\n", i+1, len(runs), s.label())
		arm := report.Arm{Name: s.name, Dir: filepath.Join(dir, s.dirName())}
		clusterDir := ""
		if a.clusterDir != "" {
			clusterDir = filepath.Join(a.clusterDir, s.dirName())
		}
		outcome, runErr := runner.Run(cmd.Context(), runner.Options{
			Profile: s.profile, OutDir: arm.Dir, SLOOverrides: slos, ClusterDir: clusterDir,
			BinDir: a.binDir, KubernetesVersion: s.k8s, FromSnapshot: s.fromSnapshot,
			Logger: logger.With(zap.String("arm", s.name)), Progress: out,
		})
		if outcome != nil && outcome.Result != nil {
			arm.Result = outcome.Result
			fmt.Fprintf(out, "arm %s: %s\n", s.name, outcome.Result.Verdict.Summary)
		}
		if runErr != nil {
			arm.Error = runErr.Error()
			logger.Error("arm failed", zap.String("arm", s.name), zap.Error(runErr))
		}
		arms = append(arms, arm)
		if cmd.Context().Err() != nil {
			interrupted = fmt.Errorf("comparison stopped after arm %s: %w", s.name, ErrInterrupted)
			break
		}
	}

	if a.repeat > 1 {
		return reportRepeatedArms(cmd, a, dir, len(specs), arms, interrupted)
	}
	c := report.CompareArms(arms)
	if err := writeArmsJUnit(a.junit, arms, nil); err != nil {
		return err
	}
	fmt.Fprintln(out)
	if err := report.WriteArms(out, c); err != nil {
		return err
	}
	path, err := report.WriteArmsFiles(dir, c, arms)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nSide-by-side report: %s\n", path)
	return armsOutcome(c, interrupted)
}

// armsOutcome maps the comparison to the exit status: 130 when
// interrupted; else 1 when an arm could not run; else 2 when an arm that
// was not inconclusive breached an SLO (a breach measured on a bench that
// kept up is a finding whatever the other arms did); else 3 when an arm
// was inconclusive; else 0.
func armsOutcome(c report.ArmsComparison, interrupted error) error {
	if interrupted != nil {
		return interrupted
	}
	var failed, breached, behind []string
	for _, a := range c.Arms {
		if a.Error != "" {
			failed = append(failed, a.Name+": "+a.Error)
		}
		if a.Run.Inconclusive {
			for _, b := range a.Run.Behind {
				behind = append(behind, a.Name+": "+b)
			}
			continue
		}
		for _, b := range a.Breached {
			breached = append(breached, a.Name+": "+b)
		}
	}
	switch {
	case len(failed) > 0:
		return fmt.Errorf("%d of %d arms failed: %s", len(failed), len(c.Arms), strings.Join(failed, "; "))
	case len(breached) > 0:
		return &SLOBreachError{Breached: breached}
	case len(behind) > 0:
		return &InconclusiveError{Behind: behind}
	}
	return nil
}

// registerArmsFlags adds the arm flags to churn compare.
func registerArmsFlags(cmd *cobra.Command, a *armsFlags) {
	f := cmd.Flags()
	a.workload.register(f, "")
	f.StringSliceVar(&a.meshes, "mesh", nil, "with --profile: one arm per mesh, e.g. istio-ambient,cilium-ces,cilium")
	f.StringSliceVar(&a.k8sVersions, "kubernetes-version", nil, "with --profile: one arm per pinned Kubernetes release (make controlplane K8S_VERSION=...), e.g. v1.36.3,v1.37.2")
	f.StringVar(&a.out, "out", "", "with --profile: directory for the arms' results and the comparison (default churn-results/compare-<id>)")
	f.StringVar(&a.clusterDir, "dir", "", "with --profile: parent directory of the arms' local clusters, one sub-directory per arm (default .churn/runs/<run-id> each)")
	f.StringVar(&a.binDir, "bin-dir", defaultBinDir, "with --profile: directory with the control-plane binaries")
	f.StringArrayVar(&a.apiServerArms, "apiserver-args", nil, "with --profile: one arm per occurrence, its extra kube-apiserver arguments comma separated as for churn run (a comma starts a new argument only before --); default (or \"\") is the arm with the profile's arguments only, e.g. --apiserver-args default --apiserver-args=--max-mutating-requests-inflight=10")
	f.IntVar(&a.repeat, "repeat", 1, "with --profile: run every arm this many times, interleaved (arm1 #1, arm2 #1, arm1 #2, ...) so machine drift hits every arm alike; each arm is then judged against the first by its statistics (at least 4 to detect a change)")
	f.StringVar(&a.junit, "junit", "", "also write the verdicts as JUnit XML to this file: a test suite per run or comparison, a test case per SLO and per judged figure")
	f.StringVar(&a.fromSnapshot, "from-snapshot", "", "with --profile: warm-start every arm from this setup saved by churn snapshot save (a name under "+snapshot.DefaultRoot+", or a path), or each mesh arm from its own as MESH=NAME,... (e.g. none=50k,cilium=50k-cilium, for snapshots saved with --mesh); checked against every arm before the first starts")
}
