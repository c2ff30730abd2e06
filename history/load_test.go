package history

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func minimalRun(id, start string) string {
	return `{"schemaVersion":2,"runID":"` + id + `","profile":{"name":"smoke"},"target":{"kind":"local"},"mesh":"",` +
		`"phases":[{"name":"target","start":"` + start + `","end":"` + start + `"}],` +
		`"slos":[{"name":"mutating-p99","value":0.1,"limit":1,"unit":"seconds","status":"passed","passed":true}],"verdict":{"passed":true}}`
}

func TestLoadWalksGlobsAndSkipsUnreadable(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "nightly", "b", "results.json"), minimalRun("b", "2026-12-02T00:00:00Z"))
	writeFile(t, filepath.Join(dir, "nightly", "a", "deep", "results.json"), minimalRun("a", "2026-12-01T00:00:00Z"))
	writeFile(t, filepath.Join(dir, "nightly", "c", "results.json"), "{not json")
	writeFile(t, filepath.Join(dir, "nightly", "c", "other.json"), "{}")
	// The same run named twice (directory and file) counts once.
	runs, problems, err := Load([]string{filepath.Join(dir, "nightly"), filepath.Join(dir, "nightly", "b", "results.json")})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].RunID != "a" || runs[1].RunID != "b" {
		t.Fatalf("runs %v, want a then b (by start time)", runs)
	}
	if runs[0].Mesh != "none" || runs[0].Figures["mutating-p99"].Value != 0.1 {
		t.Errorf("run a: mesh %q, figures %v", runs[0].Mesh, runs[0].Figures)
	}
	if len(problems) != 1 || !strings.Contains(problems[0], filepath.Join("c", "results.json")) {
		t.Errorf("problems %v, want the corrupt c/results.json named", problems)
	}
	runs, _, err = Load([]string{filepath.Join(dir, "nightly", "[ab]")})
	if err != nil || len(runs) != 2 {
		t.Errorf("glob: %d runs, %v; want 2", len(runs), err)
	}
}

func TestLoadRefusesWhatIsNotAHistory(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "empty", "notes.txt"), "x")
	writeFile(t, filepath.Join(dir, "bad", "results.json"), "{")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no directory given"},
		{[]string{filepath.Join(dir, "missing")}, "missing does not exist"},
		{[]string{filepath.Join(dir, "zz*")}, "matches nothing"},
		{[]string{filepath.Join(dir, "empty")}, "no results.json in it"},
		{[]string{filepath.Join(dir, "bad")}, "no readable results.json under"},
	} {
		_, _, err := Load(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%v) = %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}
