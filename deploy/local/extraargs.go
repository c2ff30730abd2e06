package local

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ExtraArgComponents are the processes that take extra arguments: the
// control plane under test. kwok is the simulator; its flags are churn's.
var ExtraArgComponents = []string{Etcd, APIServer, ControllerManager, Scheduler}

// configOwned are flags churn sets through a component's configuration
// file rather than its command line; given as flags they would fight the
// file.
var configOwned = map[string]map[string]string{
	Scheduler: {
		"kubeconfig":     "churn's scheduler configuration file (--config) sets it, and the flag would fight the file",
		"kube-api-qps":   "churn's scheduler configuration file (--config) sets it, and the flag would fight the file",
		"kube-api-burst": "churn's scheduler configuration file (--config) sets it, and the flag would fight the file",
		"leader-elect":   "churn's scheduler configuration file (--config) sets it, and the flag would fight the file",
	},
}

// exiting are flags that make any of the components print something and
// exit instead of serving.
var exiting = map[string]bool{"help": true, "version": true}

// flagName matches the name part of a long flag.
var flagName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

var (
	ownedOnce sync.Once
	owned     map[string]map[string]string
)

// ownedFlags returns, per component, the flags churn sets itself and why
// they cannot be given again. It is read off the command lines
// churnComponents produces, with every optional feature (audit) on, so
// that a flag added there is refused here without a second list to keep.
func ownedFlags() map[string]map[string]string {
	ownedOnce.Do(func() {
		o := Options{
			ControllerManagerQPS: defaultComponentQPS,
			SchedulerQPS:         defaultComponentQPS,
			Audit:                AuditOptions{LogPath: "/audit.log", PolicyFile: "/audit-policy.yaml"},
		}
		ports := Ports{Etcd: 1, EtcdPeer: 2, APIServer: 3, ControllerManager: 4, Scheduler: 5, KWOK: 6}
		owned = map[string]map[string]string{}
		for _, c := range churnComponents(o, paths{dir: "/"}, ports, map[string]string{}) {
			m := map[string]string{}
			for _, a := range c.args {
				name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
				m[name] = ownedReason(name)
			}
			maps.Copy(m, configOwned[c.name])
			owned[c.name] = m
		}
	})
	return owned
}

// ownedReason says in a few words why churn keeps a flag of its own
// command lines, by what the flag is about.
func ownedReason(name string) string {
	has := func(words ...string) bool {
		return slices.ContainsFunc(words, func(w string) bool { return strings.Contains(name, w) })
	}
	switch {
	case has("cert", "key", "ca-file", "tls", "requestheader", "proxy-client", "authentication", "authorization", "service-account", "credentials"):
		return "it is part of the certificates, keys and access control churn generates"
	case name == "name" || has("port", "address", "url", "bind", "etcd-servers", "initial-cluster"):
		return "it wires the components together on the loopback ports churn chose"
	case has("kubeconfig", "dir", "config", "audit"):
		return "it belongs to the files churn writes in the cluster directory"
	default:
		return "it is part of the setup every run is measured with"
	}
}

// OwnedFlags lists the flags churn sets on component itself, sorted; they
// cannot be given as extra arguments.
func OwnedFlags(component string) []string {
	return slices.Sorted(maps.Keys(ownedFlags()[component]))
}

// CheckExtraArg says why arg cannot be passed to component, or returns nil.
// An argument is one flag, --name=value or --name for a boolean; the name
// must not be one churn sets itself (OwnedFlags), since the cluster churn
// builds (ports, certificates, data directory, kubeconfigs, the settings
// every run is measured with) depends on its value.
func CheckExtraArg(component, arg string) error {
	if !slices.Contains(ExtraArgComponents, component) {
		return fmt.Errorf("unknown component %q; known: %s", component, strings.Join(ExtraArgComponents, ", "))
	}
	if !strings.HasPrefix(arg, "--") {
		hint := ""
		if strings.HasPrefix(arg, "-") {
			hint = fmt.Sprintf(" (write -%s)", arg)
		}
		return fmt.Errorf("%q is not a flag: each argument is one flag, written --name=value, or --name for a boolean%s", arg, hint)
	}
	name, _, _ := strings.Cut(arg[2:], "=")
	if !flagName.MatchString(name) {
		return fmt.Errorf("%q: %q is not a flag name", arg, name)
	}
	if exiting[name] {
		return fmt.Errorf("%q makes %s print and exit instead of serving", arg, component)
	}
	if why, ok := ownedFlags()[component][name]; ok {
		return fmt.Errorf("%q: churn sets --%s on %s itself: %s; extra arguments may only add flags churn does not set", arg, name, component, why)
	}
	return nil
}

// ValidateExtraArgs checks every argument of args (component to arguments)
// with CheckExtraArg, naming each problem by its path below path, e.g.
// controlPlane.extraArgs[kube-apiserver][0].
func ValidateExtraArgs(args map[string][]string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, comp := range slices.Sorted(maps.Keys(args)) {
		if !slices.Contains(ExtraArgComponents, comp) {
			errs = append(errs, field.NotSupported(path.Key(comp), comp, ExtraArgComponents))
			continue
		}
		for i, a := range args[comp] {
			if err := CheckExtraArg(comp, a); err != nil {
				errs = append(errs, field.Invalid(path.Key(comp).Index(i), a, err.Error()))
			}
		}
	}
	return errs
}

// SplitArgs splits a flag value such as "--a=1,--b=x,y" into arguments. A
// comma starts a new argument only where "--" follows it, so values that
// hold commas themselves (--feature-gates=A=true,B=false) stay whole.
// Blank input gives none.
func SplitArgs(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	var out []string
	for {
		loc := argComma.FindStringIndex(s)
		if loc == nil {
			return append(out, strings.TrimSpace(s))
		}
		out = append(out, strings.TrimSpace(s[:loc[0]]))
		s = s[loc[1]-2:]
	}
}

// argComma is a comma that starts a new argument.
var argComma = regexp.MustCompile(`,\s*--`)
