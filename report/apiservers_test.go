package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
)

func TestAPIServerTableInSummaryAndReport(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	r := &results.Result{SchemaVersion: results.SchemaVersion, RunID: "r",
		Phases: []results.Phase{{Name: observers.ChurnPhase, Start: t0, End: t0.Add(10 * time.Minute)}},
		APIServers: []results.APIServerInstance{
			{Name: "kube-apiserver", Requests: 3000, Throttled: 12, WatchesPeak: 310, Versions: []string{"v1.36.3"}},
			{Name: "kube-apiserver-2", Requests: 1000, WatchesPeak: 95, OutageSeconds: 14.2, Restarts: 1, Versions: []string{"v1.36.3", "v1.37.2"}},
		},
		Processes: []results.ProcessUsage{
			{Name: "kube-apiserver", CPUSeconds: 812.4, PeakRSS: 1 << 30},
			{Name: "kube-apiserver-2", CPUSeconds: 301.5, PeakRSS: 700 << 20},
		},
	}
	watches := func(v float64) []observers.Series {
		return []observers.Series{{Name: observers.SeriesWatches, Unit: observers.UnitCount,
			Points: []observers.Point{{T: t0, V: v}, {T: t0.Add(time.Minute), V: v + 1}}}}
	}
	b, err := json.Marshal(observers.APIServerSummary{Servers: []observers.ServerScrapes{
		{Name: "kube-apiserver", Series: watches(300)}, {Name: "kube-apiserver-2", Series: watches(90)}}})
	if err != nil {
		t.Fatal(err)
	}
	r.Observers = map[string]json.RawMessage{observers.APIServerMetricsName: b}

	var sum bytes.Buffer
	if err := Summary(&sum, r, ""); err != nil {
		t.Fatal(err)
	}
	var row string
	for _, l := range strings.Split(sum.String(), "\n") {
		if strings.HasPrefix(l, "kube-apiserver-2 ") && row == "" {
			row = l // the per-server table comes before the process table
		}
	}
	for _, want := range []string{"v1.36.3 → v1.37.2", "1000", "25%", "14.2s", "301.5", "700MiB"} {
		if !strings.Contains(row, want) {
			t.Errorf("summary row of kube-apiserver-2 lacks %q:\n%s", want, sum.String())
		}
	}
	var page bytes.Buffer
	if err := WriteHTML(&page, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"API servers one by one", "<td>kube-apiserver-2</td>", ">812.4<", "Open WATCH requests per API server"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}

	// With one API server the run's own figures are its: no table.
	r.APIServers = r.APIServers[:1]
	sum.Reset()
	if err := Summary(&sum, r, ""); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sum.String(), "API SERVER") {
		t.Errorf("one API server got a per-server table:\n%s", sum.String())
	}
}
