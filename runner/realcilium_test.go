package runner

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/churn-dev/churn/agents"
	"github.com/churn-dev/churn/agents/realcilium"
	"github.com/churn-dev/churn/profiles"
)

func TestSpreadNodes(t *testing.T) {
	nodes := []string{"n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9"}
	if got := spreadNodes(nodes, 3); !reflect.DeepEqual(got, []string{"n0", "n3", "n6"}) {
		t.Errorf("spreadNodes(10, 3) = %v", got)
	}
	if got := spreadNodes(nodes, 10); !reflect.DeepEqual(got, nodes) {
		t.Errorf("spreadNodes(10, 10) = %v, want every node once", got)
	}
	if got := spreadNodes(nodes[:1], 1); !reflect.DeepEqual(got, []string{"n0"}) {
		t.Errorf("spreadNodes(1, 1) = %v", got)
	}
}

// Real Cilium is refused before anything starts without its binaries, or
// with the per-node agents in other processes; an emulated run is never
// refused for it.
func TestCheckRealCilium(t *testing.T) {
	p := profiles.Defaults()
	p.Mesh.Name = profiles.MeshCilium
	if err := CheckRealCilium(Options{Profile: p, BinDir: "/nonexistent"}); err != nil {
		t.Errorf("emulated Cilium refused: %v", err)
	}
	p.Mesh.Cilium = profiles.CiliumReal
	err := CheckRealCilium(Options{Profile: p, BinDir: "/nonexistent", Agents: agents.AgentsExternal})
	if err == nil {
		t.Fatal("real Cilium without binaries accepted")
	}
	for _, want := range []string{"/nonexistent/" + realcilium.AgentBinary, "/nonexistent/" + realcilium.OperatorBinary, "make cilium", "--agents external"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("the rest needs root (real agents take a mount namespace)")
	}
	bin := t.TempDir()
	for _, name := range []string{realcilium.AgentBinary, realcilium.OperatorBinary} {
		if err := os.WriteFile(filepath.Join(bin, name), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := CheckRealCilium(Options{Profile: p, BinDir: bin}); err != nil {
		t.Errorf("real Cilium with its binaries refused: %v", err)
	}
}
