package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
)

// The process tables show each process' CPU priority; a result without one
// (older results) shows "-".
func TestProcessTablesShowPriority(t *testing.T) {
	r := &results.Result{RunID: "r1", Processes: []results.ProcessUsage{
		{Name: observers.TesterProcess, Role: observers.RoleTester, CPUSeconds: 10, Priority: observers.PriorityNotChanged},
		{Name: "kube-apiserver", Role: observers.RoleControlPlane, CPUSeconds: 100, Priority: "cpu.shares 4096 (cgroup v1 /churn-ab12cd34/control-plane)"},
		{Name: "kwok", Role: observers.RoleSimulator, CPUSeconds: 20, Priority: "cpu.shares 512 (cgroup v1 /churn-ab12cd34/simulator)"},
		{Name: "etcd", Role: observers.RoleControlPlane, CPUSeconds: 5},
	}}
	var sum bytes.Buffer
	if err := Summary(&sum, r, ""); err != nil {
		t.Fatal(err)
	}
	// The process table runs from its header to the cost line below it
	// (which also starts with "churn").
	lines := map[string]string{}
	in := false
	for _, l := range strings.Split(sum.String(), "\n") {
		in = in && l != "" && !strings.HasPrefix(l, "churn used") || strings.HasPrefix(l, "PROCESS")
		if in {
			lines[strings.Fields(l)[0]] = l
		}
	}
	t.Logf("summary:\n%s", sum.String())
	if !strings.HasSuffix(strings.TrimSpace(lines["PROCESS"]), "PRIORITY") {
		t.Errorf("header %q lacks PRIORITY", lines["PROCESS"])
	}
	for name, want := range map[string]string{
		"churn": "normal (not changed)", "kube-apiserver": "cpu.shares 4096 (cgroup v1 /churn-ab12cd34/control-plane)",
		"kwok": "cpu.shares 512 (cgroup v1 /churn-ab12cd34/simulator)", "etcd": "-",
	} {
		if !strings.HasSuffix(strings.TrimSpace(lines[name]), want) {
			t.Errorf("summary row %q does not end with priority %q", lines[name], want)
		}
	}

	var html bytes.Buffer
	if err := WriteHTML(&html, r); err != nil {
		t.Fatal(err)
	}
	h := html.String()
	for _, want := range []string{
		"<th>CPU priority</th>",
		"<td>kwok</td><td>simulator</td>",
		`<td class="small">cpu.shares 512 (cgroup v1 /churn-ab12cd34/simulator)</td></tr>`,
		`<td class="small">normal (not changed)</td></tr>`,
		`<td class="small">-</td></tr>`,
	} {
		if !strings.Contains(h, want) {
			t.Errorf("HTML process table lacks %q", want)
		}
	}
}
