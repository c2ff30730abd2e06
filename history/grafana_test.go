package history

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

// The shipped dashboard must ask for what the export writes: a renamed
// figure or metric would leave a panel empty without any error.
func TestGrafanaDashboardQueriesExportedFigures(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "deploy", "grafana", "churn-history.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard is not JSON: %v", err)
	}
	runs, _, err := Load([]string{filepath.Join("testdata", "planted")})
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, s := range Samples(runs) {
		for _, l := range s.Labels {
			if l.Name == "figure" {
				exported[l.Value] = true
			}
		}
	}
	metrics := []string{MetricFigure, MetricPassed, MetricInconclusive}
	figureRE := regexp.MustCompile(`figure="([^"]+)"`)
	metricRE := regexp.MustCompile(`churn_[a-z_]+`)
	queries := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			queries++
			for _, m := range metricRE.FindAllString(tg.Expr, -1) {
				if !slices.Contains(metrics, m) {
					t.Errorf("panel %q queries %s, which churn history does not export", p.Title, m)
				}
			}
			for _, m := range figureRE.FindAllStringSubmatch(tg.Expr, -1) {
				if !exported[m[1]] {
					t.Errorf("panel %q queries figure %q, which no run of the testdata exports", p.Title, m[1])
				}
			}
		}
	}
	if queries < 10 {
		t.Errorf("dashboard %q has %d queries, want a panel per key figure", dash.Title, queries)
	}
}
