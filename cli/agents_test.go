package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"go.uber.org/zap"
)

func runAgents(t *testing.T, args ...string) error {
	t.Helper()
	cmd := newAgentsCommand(zap.NewNop())
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	return cmd.ExecuteContext(context.Background())
}

func TestAgentsFlagErrorsNameFlagAndValue(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--shard", "3/2"}, "--shard 3/2: index must be < total"},
		{[]string{"--shard", "$(SHARD_INDEX)/4"}, `--shard $(SHARD_INDEX)/4: index "$(SHARD_INDEX)" is not a number`},
		{[]string{"--shard", "1"}, "--shard 1: want index/total"},
		{[]string{}, `required flag(s) "shard" not set`},
		{[]string{"--shard", "0/2", "--mesh", "none"}, "--mesh none: mesh none has no per-node agents"},
		{[]string{"--shard", "0/2", "--mesh", "linkerd"}, `--mesh linkerd: unknown mesh "linkerd"`},
		{[]string{"--shard", "0/2", "--in-cluster", "--kubeconfig", "x"}, "--in-cluster uses the pod's service account"},
		{[]string{"--shard", "0/2", "--in-cluster"}, "--in-cluster: "},
		{[]string{"--shard", "0/2", "--kubeconfig", "/nonexistent/kubeconfig"}, "load --kubeconfig /nonexistent/kubeconfig"},
	} {
		err := runAgents(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("churn agents %s: error = %v, want %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

func TestAgentsIsRegistered(t *testing.T) {
	cmd, _, err := NewRootCommand(zap.NewNop()).Find([]string{"agents"})
	if err != nil || cmd.Name() != "agents" {
		t.Fatalf("churn agents not registered: %v", err)
	}
}
