package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/churn-dev/churn/results"
)

// writeSide stores one run per mutating p99 under dir/<prefix>-<i>.
func writeSide(t *testing.T, dir, prefix string, p99s ...float64) {
	t.Helper()
	for i, v := range p99s {
		r := compareRun(fmt.Sprintf("%s-%d", prefix, i+1), v, 200)
		if err := results.Write(filepath.Join(dir, fmt.Sprintf("%s-%d", prefix, i+1)), r); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCompareRepeatedRunsSignificantRegressionExits2(t *testing.T) {
	dir := t.TempDir()
	// Six runs a side: one figure moving alone must stand out among all
	// those tested together.
	writeSide(t, dir, "base", 0.100, 0.102, 0.098, 0.101, 0.099, 0.100)
	writeSide(t, dir, "cand", 0.150, 0.152, 0.149, 0.151, 0.148, 0.150)
	xml := filepath.Join(dir, "out", "churn.xml")
	code, out, _, _ := runCompare(t, "--base", filepath.Join(dir, "base-*"), "--candidate", filepath.Join(dir, "cand-*"),
		"--format", "markdown", "--junit", xml)
	if code != ExitSLOBreached {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(out, "| SLO mutating-p99 | 1s | 100ms") || !strings.Contains(out, "❌ **REGRESSED**") {
		t.Errorf("markdown:\n%s", out)
	}
	b, err := os.ReadFile(xml)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `<failure message="regressed: mutating-p99 100ms -&gt; 150ms (+50.0%)" type="Regression">`) {
		t.Errorf("junit:\n%s", b)
	}
}

func TestCompareRepeatedNoiseExits0(t *testing.T) {
	dir := t.TempDir()
	// The single-run rule would fail +84% (0.100 -> 0.184); across five
	// overlapping runs per side it is noise.
	writeSide(t, dir, "base", 0.100, 0.190, 0.120, 0.170, 0.095)
	writeSide(t, dir, "cand", 0.184, 0.105, 0.160, 0.110, 0.180)
	code, out, _, _ := runCompare(t, "--base", filepath.Join(dir, "base-*"), "--candidate", filepath.Join(dir, "cand-*"))
	if code != ExitOK || !strings.Contains(out, "~ too noisy") {
		t.Errorf("exit %d, want 0 with a too-noisy verdict:\n%s", code, out)
	}
	code, out, _, _ = runCompare(t, filepath.Join(dir, "base-1"), filepath.Join(dir, "cand-1"))
	if code != ExitSLOBreached || !strings.Contains(out, "Single-run rule (1 run base, 1 run candidate)") {
		t.Errorf("single runs: exit %d, want 2 under the labelled single-run rule:\n%s", code, out)
	}
}

func TestCompareSidesBadInput(t *testing.T) {
	dir := t.TempDir()
	writeSide(t, dir, "base", 0.1, 0.1)
	other := compareRun("other", 0.1, 200)
	other.Mesh = "cilium"
	if err := results.Write(filepath.Join(dir, "other"), other); err != nil {
		t.Fatal(err)
	}
	base1 := filepath.Join(dir, "base-1")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--base", base1, "--base", filepath.Join(dir, "other"), "--candidate", base1}, "--base " + filepath.Join(dir, "other") + `: mesh "cilium" is another`},
		{[]string{"--base", filepath.Join(dir, "nothing-*"), "--candidate", base1}, "--base"},
		{[]string{"--base", base1}, "--base and --candidate go together"},
		{[]string{"--base", base1, "--candidate", base1, base1}, "not both"},
		{[]string{"--base", base1, "--candidate", base1, "--repeat", "3"}, "--repeat 3"},
		{[]string{"--profile", "smoke", "--mesh", "none,cilium", "--repeat", "0"}, "--repeat 0"},
	} {
		code, _, _, err := runCompare(t, tc.args...)
		if code != ExitFailure || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: exit %d, err %v; want exit 1 naming %q", tc.args, code, err, tc.want)
		}
	}
}

func TestInterleave(t *testing.T) {
	var got []string
	for _, s := range interleave([]armSpec{{name: "none"}, {name: "cilium"}}, 2) {
		got = append(got, s.dirName())
	}
	if want := "none/1 cilium/1 none/2 cilium/2"; strings.Join(got, " ") != want {
		t.Errorf("order %v, want %s", got, want)
	}
	if s := interleave([]armSpec{{name: "none"}}, 1); s[0].dirName() != "none" {
		t.Errorf("no repeat: %s", s[0].dirName())
	}
}
