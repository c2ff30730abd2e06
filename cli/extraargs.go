package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/churn-dev/churn/deploy/local"
)

// extraArgsFlags are --apiserver-args and --component-args of churn run
// and churn up: arguments for the local control plane beyond churn's own.
type extraArgsFlags struct {
	apiServer  string
	components []string
}

func (e *extraArgsFlags) register(f *pflag.FlagSet) {
	f.StringVar(&e.apiServer, "apiserver-args", "", "extra kube-apiserver arguments, comma separated, e.g. --max-mutating-requests-inflight=100,--max-requests-inflight=200; a comma starts a new argument only before --, so --feature-gates=A=true,B=false stays whole (local only; flags churn sets itself are refused)")
	f.StringArrayVar(&e.components, "component-args", nil, "extra arguments for one control-plane component, COMPONENT=ARGS (repeatable), e.g. kube-controller-manager=--concurrent-statefulset-syncs=10; components: "+strings.Join(local.ExtraArgComponents, ", ")+" (local only)")
}

// parse returns the arguments by component, each checked, with errors
// naming the flag and value. nil when neither flag was given.
func (e *extraArgsFlags) parse() (map[string][]string, error) {
	var out map[string][]string
	add := func(flag, comp string, args []string) error {
		for _, a := range args {
			if err := local.CheckExtraArg(comp, a); err != nil {
				return fmt.Errorf("%s: %w", flag, err)
			}
		}
		if out == nil {
			out = map[string][]string{}
		}
		out[comp] = append(out[comp], args...)
		return nil
	}
	if err := add("--apiserver-args", local.APIServer, local.SplitArgs(e.apiServer)); err != nil {
		return nil, err
	}
	for _, c := range e.components {
		comp, args, ok := strings.Cut(c, "=")
		if !ok || strings.TrimSpace(args) == "" {
			return nil, fmt.Errorf("--component-args %q: want COMPONENT=ARGS, e.g. etcd=--snapshot-count=5000; components: %s", c, strings.Join(local.ExtraArgComponents, ", "))
		}
		if err := add("--component-args "+c, strings.TrimSpace(comp), local.SplitArgs(args)); err != nil {
			return nil, err
		}
	}
	for comp, args := range out {
		if len(args) == 0 {
			delete(out, comp)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}
