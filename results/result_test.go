package results

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadAcceptsVersion1AndRefusesNewer(t *testing.T) {
	dir := t.TempDir()
	v1 := `{"schemaVersion":1,"runID":"old","verdict":{"passed":true,"summary":"PASS"}}`
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(v1), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Read(dir)
	if err != nil {
		t.Fatalf("version 1 file: %v", err)
	}
	if r.RunID != "old" || r.Install != nil || r.Validity != nil || r.Verdict.Inconclusive {
		t.Fatalf("version 1 read as %+v", r)
	}

	future := `{"schemaVersion":99,"runID":"new"}`
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(future), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), "schemaVersion 99") {
		t.Fatalf("version 99: want a refusal naming it, got %v", err)
	}
}

func TestWriteReadRoundTripsInstallAndValidity(t *testing.T) {
	dir := t.TempDir()
	in := &Result{SchemaVersion: SchemaVersion, RunID: "r",
		Install: &Install{Mesh: "cilium", Settled: false, Conditions: []SettleCondition{
			{Name: "CiliumEndpoints", Want: 10, Have: 7}, {Name: "CiliumNodes", Want: 2, Have: 2, Met: true}}},
		Validity: &Validity{Checks: []ValidityCheck{{Name: "churn-lag-p99", Status: ValidityBehind}, {Name: "x", Status: ValidityOK}}},
		Verdict:  Verdict{Inconclusive: true, Behind: []string{"churn-lag-p99"}},
	}
	if err := Write(dir, in); err != nil {
		t.Fatal(err)
	}
	out, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Install.Unmet(); len(got) != 1 || got[0].Name != "CiliumEndpoints" {
		t.Fatalf("unmet = %+v", got)
	}
	if got := out.Validity.Behind(); len(got) != 1 || got[0] != "churn-lag-p99" {
		t.Fatalf("behind = %v", got)
	}
	if !out.Verdict.Inconclusive {
		t.Fatal("inconclusive lost")
	}
}
