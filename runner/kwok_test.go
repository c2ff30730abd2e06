package runner

import (
	"strings"
	"testing"
)

func TestValidateTarget(t *testing.T) {
	for name, tc := range map[string]struct {
		opts Options
		want string // "" = valid
	}{
		"local, default kwok":       {Options{}, ""},
		"local, external kwok":      {Options{KWOK: KWOKExternal}, ""},
		"local, install refused":    {Options{KWOK: KWOKInstall}, "local control plane always runs churn's own kwok"},
		"kubeconfig, install":       {Options{Kubeconfig: "k", KWOK: KWOKInstall}, ""},
		"in-cluster, install":       {Options{InCluster: true, KWOK: KWOKInstall}, ""},
		"in-cluster and kubeconfig": {Options{InCluster: true, Kubeconfig: "k"}, "exclude each other"},
		"unknown kwok mode":         {Options{Kubeconfig: "k", KWOK: "sometimes"}, `--kwok "sometimes"`},
	} {
		t.Run(name, func(t *testing.T) {
			err := ValidateTarget(tc.opts)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
