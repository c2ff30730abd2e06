package report

import (
	"strings"
	"testing"

	"github.com/churn-dev/churn/results"
)

// A wave of real processes points at the audit log's counts instead of
// showing start-up lists it could not see; a mixed wave shows both.
func TestRolloutTextOfRealProcesses(t *testing.T) {
	real := rolloutText(&results.RolloutWave{Component: "cilium-agent", Agents: 2, Ready: 2, Real: 2})
	if !strings.Contains(real, "2 real processes") || strings.Contains(real, "start-up lists") {
		t.Errorf("all real: %q", real)
	}
	mixed := rolloutText(&results.RolloutWave{Component: "cilium-agent", Agents: 3, Ready: 3, Real: 1,
		Lists: results.StartupRequests{Count: 30}})
	if !strings.Contains(mixed, "1 real process:") || !strings.Contains(mixed, "start-up lists 30") {
		t.Errorf("mixed: %q", mixed)
	}
	if emulated := rolloutText(&results.RolloutWave{Component: "cilium-agent", Agents: 1, Ready: 1}); strings.Contains(emulated, "real") {
		t.Errorf("emulated: %q", emulated)
	}
}
