package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/churn-dev/churn/results"
)

func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	r := &results.Result{
		SchemaVersion: results.SchemaVersion, RunID: "cli-test",
		SLOs:    []results.SLOResult{{Name: "max-outage", Threshold: "10s", Measured: "12s", Status: results.SLOBreached}},
		Verdict: results.Verdict{Passed: false, Breached: []string{"max-outage"}, Summary: "FAIL: 1 of 1 judged SLOs breached: max-outage"},
	}
	if err := results.Write(dir, r); err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{dir, filepath.Join(dir, results.FileName)} {
		cmd := newReportCommand()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetArgs([]string{arg})
		if err := cmd.Execute(); err != nil {
			t.Fatalf("churn report %s: %v", arg, err)
		}
		html, err := os.ReadFile(filepath.Join(dir, "report.html"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(html), "cli-test") {
			t.Error("report.html does not show the run")
		}
		for _, want := range []string{"Verdict: FAIL", "max-outage", "Report: " + filepath.Join(dir, "report.html")} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, out.String())
			}
		}
	}
	cmd := newReportCommand()
	cmd.SetOut(new(bytes.Buffer))
	cmd.SetArgs([]string{filepath.Join(dir, "missing")})
	if err := cmd.Execute(); err == nil {
		t.Error("a missing results.json should be an error")
	}
}
