package profiles

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// DisruptionsSpec is what a run does to the cluster on purpose during churn.
// Each entry is a plan of steps in time (package disruption); times count
// from the start of the churn phase.
type DisruptionsSpec struct {
	// Faults kill a local control-plane process and start it again:
	// PROCESS-kill@AT[+DOWN], e.g. etcd-kill@3m (see ParseFault).
	Faults []string `json:"faults,omitempty"`
	// Upgrade replaces each local control-plane process in turn with
	// another Kubernetes release: kubernetes=VERSION@AT, e.g.
	// kubernetes=v1.37.2@3m (see ParseUpgrade).
	Upgrade string `json:"upgrade,omitempty"`
	// Rollouts restart mesh agents in waves: COMPONENT@AT,maxUnavailable=N
	// (see ParseRollout).
	Rollouts []string `json:"rollouts,omitempty"`
}

// DefaultFaultDowntime is how long a killed process stays down when the
// fault does not say: a kubelet's first back-off before restarting a
// crashed static pod.
const DefaultFaultDowntime = 10 * time.Second

// FaultSpec is one parsed fault: kill Process At into churn, start it
// again Down later.
type FaultSpec struct {
	Spec    string
	Process string
	At      time.Duration
	Down    time.Duration
}

// faultProcesses maps the names a fault may use to process names.
var faultProcesses = map[string]string{
	"etcd":                    "etcd",
	"apiserver":               "kube-apiserver",
	"kube-apiserver":          "kube-apiserver",
	"controller-manager":      "kube-controller-manager",
	"kube-controller-manager": "kube-controller-manager",
	"scheduler":               "kube-scheduler",
	"kube-scheduler":          "kube-scheduler",
	"kwok":                    "kwok",
}

// extraAPIServer matches the second and later API servers of an HA control
// plane: kube-apiserver-2, apiserver-3.
var extraAPIServer = regexp.MustCompile(`^(?:kube-)?apiserver-([2-9])$`)

// ParseFault reads PROCESS-kill@AT[+DOWN], e.g. etcd-kill@3m,
// kube-apiserver-2-kill@2m or kwok-kill@90s+30s. DOWN defaults to
// DefaultFaultDowntime.
func ParseFault(spec string) (FaultSpec, error) {
	s := strings.TrimSpace(spec)
	what, when, ok := strings.Cut(s, "@")
	if !ok {
		return FaultSpec{}, fmt.Errorf("%q: want PROCESS-kill@AT[+DOWN], e.g. etcd-kill@3m or kwok-kill@90s+30s", spec)
	}
	name, ok := strings.CutSuffix(what, "-kill")
	if !ok {
		return FaultSpec{}, fmt.Errorf("%q: unknown fault %q; the one fault is PROCESS-kill", spec, what)
	}
	process, ok := faultProcesses[name]
	if m := extraAPIServer.FindStringSubmatch(name); m != nil {
		process, ok = "kube-apiserver-"+m[1], true
	}
	if !ok {
		return FaultSpec{}, fmt.Errorf("%q: unknown process %q; want one of etcd, kube-apiserver (kube-apiserver-2 ... with several), kube-controller-manager, kube-scheduler, kwok", spec, name)
	}
	at, down, hasDown := strings.Cut(when, "+")
	f := FaultSpec{Spec: s, Process: process, Down: DefaultFaultDowntime}
	var err error
	if f.At, err = time.ParseDuration(at); err != nil || f.At < 0 {
		return FaultSpec{}, fmt.Errorf("%q: time %q: want a duration from the start of churn, e.g. 3m", spec, at)
	}
	if hasDown {
		if f.Down, err = time.ParseDuration(down); err != nil || f.Down <= 0 {
			return FaultSpec{}, fmt.Errorf("%q: downtime %q: want a positive duration, e.g. 30s", spec, down)
		}
	}
	return f, nil
}

// UpgradeSpec is a parsed upgrade: at At into churn, replace every API
// server in turn, then kube-controller-manager and kube-scheduler, with
// Kubernetes release To.
type UpgradeSpec struct {
	Spec string
	To   string
	At   time.Duration
}

// releasePattern is a Kubernetes release as churn's builds name them.
var releasePattern = regexp.MustCompile(`^v1\.(\d+)\.(\d+)(-[0-9A-Za-z.]+)?$`)

// ParseUpgrade reads kubernetes=VERSION@AT, e.g. kubernetes=v1.37.2@3m.
func ParseUpgrade(spec string) (UpgradeSpec, error) {
	s := strings.TrimSpace(spec)
	what, when, ok := strings.Cut(s, "@")
	if !ok {
		return UpgradeSpec{}, fmt.Errorf("%q: want kubernetes=VERSION@AT, e.g. kubernetes=v1.37.2@3m", spec)
	}
	kind, to, ok := strings.Cut(what, "=")
	if !ok || kind != "kubernetes" {
		return UpgradeSpec{}, fmt.Errorf("%q: want kubernetes=VERSION@AT, e.g. kubernetes=v1.37.2@3m; only Kubernetes is upgraded", spec)
	}
	if !releasePattern.MatchString(to) {
		return UpgradeSpec{}, fmt.Errorf("%q: release %q: want v1.MINOR.PATCH, e.g. v1.37.2", spec, to)
	}
	at, err := time.ParseDuration(when)
	if err != nil || at < 0 {
		return UpgradeSpec{}, fmt.Errorf("%q: time %q: want a duration from the start of churn, e.g. 3m", spec, when)
	}
	return UpgradeSpec{Spec: s, To: to, At: at}, nil
}

// ReleaseMinor is the minor version of a release ("v1.37.2" -> 37), or -1.
func ReleaseMinor(release string) int {
	m := releasePattern.FindStringSubmatch(release)
	if m == nil {
		return -1
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return -1
	}
	return n
}

// CheckUpgradeSkew applies Kubernetes' version skew policy to an upgrade
// from one release to another: API servers at most one minor apart while
// they are mixed, and no downgrade.
func CheckUpgradeSkew(from, to string) error {
	fm, tm := ReleaseMinor(from), ReleaseMinor(to)
	switch {
	case fm < 0:
		return fmt.Errorf("running release %q is not a v1.MINOR.PATCH release", from)
	case from == to:
		return fmt.Errorf("the control plane already runs %s", to)
	case tm < fm || (tm == fm && to < from):
		return fmt.Errorf("%s to %s is a downgrade", from, to)
	case tm > fm+1:
		return fmt.Errorf("%s to %s skips a minor release; API servers may be at most one minor apart (upgrade through v1.%d first)", from, to, fm+1)
	}
	return nil
}

// MaxAPIServers bounds controlPlane.apiservers: each API server holds a
// full watch cache, and more than a few on one machine measure the machine.
const MaxAPIServers = 5

func (p Profile) validateDisruptions(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	churnFor := p.Churn.Duration.Duration
	within := func(fp *field.Path, spec string, at time.Duration) {
		if churnFor > 0 && at >= churnFor {
			errs = append(errs, field.Invalid(fp, spec, fmt.Sprintf("%s is not within the churn phase (%s)", at, churnFor)))
		}
	}
	for i, s := range p.Disruptions.Faults {
		fp := path.Child("faults").Index(i)
		f, err := ParseFault(s)
		if err != nil {
			errs = append(errs, field.Invalid(fp, s, err.Error()))
			continue
		}
		if n, ok := strings.CutPrefix(f.Process, "kube-apiserver-"); ok && int(n[0]-'0') > p.ControlPlane.APIServerCount() {
			errs = append(errs, field.Invalid(fp, s, fmt.Sprintf("there is no %s: the control plane runs %d API server(s) (controlPlane.apiservers)", f.Process, p.ControlPlane.APIServerCount())))
		}
		within(fp, s, f.At)
	}
	if s := p.Disruptions.Upgrade; s != "" {
		fp := path.Child("upgrade")
		if u, err := ParseUpgrade(s); err != nil {
			errs = append(errs, field.Invalid(fp, s, err.Error()))
		} else {
			within(fp, s, u.At)
		}
	}
	errs = append(errs, p.validateRollouts(path.Child("rollouts"))...)
	if n := p.ControlPlane.APIServers; n < 0 || n > MaxAPIServers {
		errs = append(errs, field.Invalid(field.NewPath("controlPlane", "apiservers"), n, fmt.Sprintf("want 1 to %d (0 means 1)", MaxAPIServers)))
	}
	return errs
}

// APIServerCount is how many kube-apiservers the local control plane runs.
func (c ControlPlaneSpec) APIServerCount() int { return max(1, c.APIServers) }
