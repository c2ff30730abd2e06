package history

import (
	"path/filepath"
	"testing"

	"github.com/churn-dev/churn/observers"
)

// The checked-in series are real runs (testdata/README.md): a planted API
// server limit from run 11 on, and A/A runs.

func loadSeries(t *testing.T, name string) []*Run {
	t.Helper()
	runs, problems, err := Load([]string{filepath.Join("testdata", name)})
	if err != nil || len(problems) > 0 {
		t.Fatalf("load %s: %v %v", name, err, problems)
	}
	return runs
}

func TestPlantedSeriesSplitsAtTheLimit(t *testing.T) {
	runs := loadSeries(t, "planted")
	h := Analyze(runs, DefaultOptions())
	if len(h.Groups) != 1 {
		t.Fatalf("%d groups, want 1: the limit is an argument, which does not split the series", len(h.Groups))
	}
	g := h.Groups[0]
	if len(g.Settings) != 1 || g.Settings[0].Run != 11 {
		t.Fatalf("setting changes %+v, want the arguments at run 11", g.Settings)
	}
	var mutating *Series
	for _, s := range g.Series {
		if s.Name == observers.SLOMutatingP99 {
			mutating = s
		}
	}
	if mutating == nil {
		t.Fatal("no mutating-p99 series")
	}
	// The limit moves mutating p99: a change point at run 11 ±1 among
	// the figures tested together, judged a regression and suspecting
	// the arguments.
	if mutating.Split < 10 || mutating.Split > 12 || mutating.FirstP > 0.05 {
		t.Errorf("mutating-p99: strongest split at run %d (p=%.3f), want run 11 ±1 with p <= 0.05", mutating.Split, mutating.FirstP)
	}
	found := false
	for _, c := range g.Changes {
		if c.Figure == observers.SLOMutatingP99 && c.Run >= 10 && c.Run <= 12 && c.Verdict == Regression && len(c.Suspects) == 1 {
			found = true
		}
		// No change point may fall away from the limit: those would be
		// false alarms.
		if c.Run < 10 || c.Run > 12 {
			t.Errorf("change point %+v away from run 11", c)
		}
	}
	if !found {
		t.Errorf("change points %+v, want a mutating-p99 regression at run 11 ±1 suspecting the arguments", g.Changes)
	}
	// A nightly --check flags the regression once it can be seen, from
	// its third run (segments of at least 3 runs) at the latest, within
	// its window.
	flagged := 0
	for n := 11; n <= 15; n++ {
		if fs := Analyze(runs[:n], DefaultOptions()).Check(5); len(fs) > 0 {
			flagged++
		}
	}
	if flagged == 0 {
		t.Error("no check over runs 1-11 to 1-15 flagged the limit")
	}
	t.Logf("planted series of %d runs: %d change points, mutating-p99 split at run %d p=%.3f, family %d cut %.4f",
		len(runs), len(g.Changes), mutating.Split, mutating.FirstP, g.Family, g.Cut)
	// Before the limit no check may fire, whatever the prefix.
	for n := 6; n <= 10; n++ {
		if fs := Analyze(runs[:n], DefaultOptions()).Check(5); len(fs) > 0 {
			t.Errorf("check over runs 1-%d flagged %+v before anything changed", n, fs)
		}
	}
}

func TestAASeriesHasNoChangePoint(t *testing.T) {
	runs := loadSeries(t, "aa")
	h := Analyze(runs, DefaultOptions())
	if len(h.Groups) != 1 {
		t.Fatalf("%d groups, want 1", len(h.Groups))
	}
	if cs := h.Groups[0].Changes; len(cs) > 0 {
		t.Errorf("A/A series of %d runs: change points %+v, want none", len(runs), cs)
	}
	// --check as a nightly gate would have run it, after every run from
	// the sixth on.
	alarms := 0
	for n := 6; n <= len(runs); n++ {
		if fs := Analyze(runs[:n], DefaultOptions()).Check(5); len(fs) > 0 {
			alarms++
			t.Errorf("check over A/A runs 1-%d flagged %+v", n, fs)
		}
	}
	t.Logf("A/A: %d of %d nightly checks flagged a regression", alarms, len(runs)-5)
}
