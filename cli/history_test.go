package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// plantedHistory is the checked-in series of history's integration test:
// real runs of 1k-pods from one snapshot, from run 11 on with
// kube-apiserver starved of in-flight requests.
var plantedHistory = filepath.Join("..", "history", "testdata", "planted")

// shiftedHistory writes n copies of a real run a day apart, mutating-p99
// at about 80 ms and doubled from run `from` on: a regression too plain
// to miss, so the test is of the command, not of the detector's power.
func shiftedHistory(t *testing.T, n, from int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(plantedHistory, "01", "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	start := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		var r map[string]any
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		r["runID"] = fmt.Sprintf("night-%02d", i)
		r["phases"].([]any)[0].(map[string]any)["start"] = start.Add(time.Duration(i) * 24 * time.Hour).Format(time.RFC3339)
		v := 0.080 + 0.002*float64(i%5)
		if i >= from {
			v *= 2
		}
		for _, s := range r["slos"].([]any) {
			if slo := s.(map[string]any); slo["name"] == "mutating-p99" {
				slo["value"] = v
			}
		}
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, fmt.Sprint(i)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(i), "results.json"), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runHistory(t *testing.T, args ...string) (int, string, error) {
	t.Helper()
	cmd := newHistoryCommand(zap.NewNop())
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	code := ExitCode(context.Background(), err, zaptest.NewLogger(t))
	return code, out.String(), err
}

func TestHistoryCheckExitStatus(t *testing.T) {
	// Night 13 is the third night of a regression that began at night 11.
	code, out, err := runHistory(t, shiftedHistory(t, 13, 11), "--check")
	if code != ExitSLOBreached {
		t.Fatalf("--check: exit %d, want %d; %v\n%s", code, ExitSLOBreached, err, out)
	}
	if !strings.Contains(err.Error(), "mutating-p99 regressed") || !strings.Contains(err.Error(), "since run 11 (night-11)") {
		t.Errorf("error %q does not name the figure and the run it started at", err)
	}
	if !strings.Contains(out, "Check FAILED") {
		t.Errorf("output lacks the check's verdict:\n%s", out)
	}
	// Ten nights on, the regression is history, not news, for a window
	// of 5; a window of 12 still flags it.
	dir := shiftedHistory(t, 20, 11)
	if code, out, err := runHistory(t, dir, "--check"); code != ExitOK {
		t.Errorf("--check over 20 nights: exit %d, want 0; %v\n%s", code, err, out)
	}
	if code, _, err := runHistory(t, dir, "--check", "--check-window", "12"); code != ExitSLOBreached {
		t.Errorf("--check --check-window 12 over 20 nights: exit %d, want 2; %v", code, err)
	}
	// The real series: nothing to flag, and the trends page is written.
	page := filepath.Join(t.TempDir(), "trends.html")
	if code, out, err := runHistory(t, plantedHistory, "--check", "--html", page); code != ExitOK {
		t.Errorf("--check over the planted series: exit %d; %v\n%s", code, err, out)
	}
	if b, err := os.ReadFile(page); err != nil || !strings.Contains(string(b), "<svg") {
		t.Errorf("trends page: %v", err)
	}
}

func TestHistoryRefusesBadFlags(t *testing.T) {
	t.Setenv(openSearchPasswordEnv, "") // whatever the developer's shell holds
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{plantedHistory, "--check-window", "0"}, "--check-window 0"},
		{[]string{plantedHistory, "--permutations", "5"}, "--permutations 5"},
		{[]string{plantedHistory, "--group-by", "profile,os"}, `--group-by: "os" is not a field`},
		{[]string{plantedHistory, "--max-regression", "ten"}, "--max-regression"},
		{[]string{plantedHistory, "--format", "csv"}, `--format "csv"`},
		{[]string{plantedHistory, "--remote-write", "localhost:9090"}, `remote-write URL "localhost:9090"`},
		{[]string{filepath.Join(t.TempDir(), "none")}, "does not exist"},
		{[]string{plantedHistory, "--last", "-1"}, "--last -1: want 0"},
		{[]string{plantedHistory, "--opensearch", "localhost:9200"}, `--opensearch: OpenSearch URL "localhost:9200"`},
		{[]string{plantedHistory, "--opensearch", "http://localhost:9200", "--opensearch-index", "Churn"}, `index name "Churn": must be lowercase`},
		{[]string{plantedHistory, "--opensearch", "http://localhost:9200", "--opensearch-user", "churn"}, "set the password in $CHURN_OPENSEARCH_PASSWORD"},
		{[]string{plantedHistory, "--opensearch-user", "churn"}, "need --opensearch URL"},
	} {
		code, _, err := runHistory(t, tc.args...)
		if code != ExitFailure || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("history %v: exit %d, %v; want exit 1 naming %q", tc.args, code, err, tc.want)
		}
	}
	// A password without a user is a half-set credential, refused.
	t.Setenv(openSearchPasswordEnv, "s3cret")
	code, _, err := runHistory(t, plantedHistory, "--opensearch", "http://localhost:9200")
	if code != ExitFailure || err == nil || !strings.Contains(err.Error(), "--opensearch-user is not") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("password without a user: exit %d, %v", code, err)
	}
}

// TestHistoryLastAndOpenSearch runs the command over 13 nights with --last
// 5 and --opensearch against a stand-in _bulk endpoint: the table, the
// check and the documents all hold the newest 5 nights only.
func TestHistoryLastAndOpenSearch(t *testing.T) {
	t.Setenv(openSearchPasswordEnv, "s3cret")
	var (
		ids     = map[string]bool{}
		runIDs  = map[string]bool{}
		actions int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "churn" || p != "s3cret" || r.URL.Path != "/_bulk" {
			http.Error(w, "want POST /_bulk as churn", http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var items []string
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			var action struct {
				Index struct {
					Index string `json:"_index"`
					ID    string `json:"_id"`
				} `json:"index"`
			}
			if err := json.Unmarshal(sc.Bytes(), &action); err != nil || action.Index.Index != "nightly" {
				http.Error(w, "bad action line "+sc.Text(), http.StatusBadRequest)
				return
			}
			sc.Scan()
			var doc struct {
				RunID      string `json:"runID"`
				MetricName string `json:"metricName"`
			}
			if err := json.Unmarshal(sc.Bytes(), &doc); err != nil || action.Index.ID != doc.RunID+":"+doc.MetricName {
				http.Error(w, "bad document "+sc.Text(), http.StatusBadRequest)
				return
			}
			actions++
			ids[action.Index.ID], runIDs[doc.RunID] = true, true
			items = append(items, `{"index":{"_id":`+fmt.Sprintf("%q", action.Index.ID)+`,"status":201,"result":"created"}}`)
		}
		fmt.Fprintf(w, `{"took":1,"errors":false,"items":[%s]}`, strings.Join(items, ","))
	}))
	defer srv.Close()

	// Night 13 is the third of a regression from night 11: with the
	// newest 8 (nights 6-13) the check sees 5 nights before it.
	code, out, err := runHistory(t, shiftedHistory(t, 13, 11), "--last", "8", "--check",
		"--opensearch", srv.URL, "--opensearch-index", "nightly", "--opensearch-user", "churn")
	if code != ExitSLOBreached {
		t.Fatalf("exit %d, want %d (the regression); %v\n%s", code, ExitSLOBreached, err, out)
	}
	if !strings.Contains(out, "8 runs, 2026-12-07 02:00 to 2026-12-14 02:00 (the newest; 5 older left out)") || strings.Contains(out, "night-05") {
		t.Errorf("the table does not hold exactly the newest 8 nights:\n%s", out)
	}
	if !strings.Contains(err.Error(), "since run 6 (night-11)") {
		t.Errorf("error %q does not count runs from the oldest kept", err)
	}
	if len(runIDs) != 8 || !runIDs["night-06"] || !runIDs["night-13"] || runIDs["night-05"] {
		t.Errorf("documents of runs %v, want night-06 to night-13", runIDs)
	}
	if actions != len(ids) || !ids["night-13:mutating-p99"] || !ids["night-13:runVerdict"] {
		t.Errorf("%d actions, %d distinct _ids, want one document per run and figure", actions, len(ids))
	}
}
