package history

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func runIDs(runs []*Run) []string {
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.RunID)
	}
	return ids
}

func TestLastKeepsNewestRunsOfEachGroup(t *testing.T) {
	// Two groups interleaved: 1k-pods nights a..j, smoke nights a..e.
	big, smoke := synthetic(1, 10, 0, 1), synthetic(2, 5, 0, 1)
	var runs []*Run
	for i, r := range big {
		runs = append(runs, r)
		if i < len(smoke) {
			smoke[i].Profile, smoke[i].RunID = "smoke", "smoke-"+smoke[i].RunID
			runs = append(runs, smoke[i])
		}
	}
	o := DefaultOptions()
	o.Last = 3
	h := Analyze(runs, o)
	if len(h.Groups) != 2 {
		t.Fatalf("%d groups, want 2", len(h.Groups))
	}
	want := map[string][]string{
		"1k-pods": {"run-h", "run-i", "run-j"},
		"smoke":   {"smoke-run-c", "smoke-run-d", "smoke-run-e"},
	}
	older := map[string]int{"1k-pods": 7, "smoke": 2}
	for _, g := range h.Groups {
		p := g.Key[FieldProfile]
		if got := strings.Join(runIDs(g.Runs), ","); got != strings.Join(want[p], ",") {
			t.Errorf("group %s: runs %s, want %v", p, got, want[p])
		}
		if g.Older != older[p] {
			t.Errorf("group %s: %d older, want %d", p, g.Older, older[p])
		}
		for _, s := range g.Series {
			if len(s.Values) != 3 {
				t.Errorf("group %s, %s: %d values, want one per kept run", p, s.Name, len(s.Values))
			}
		}
	}
	// What the exports send is what the groups hold, in the input order.
	if got := strings.Join(runIDs(h.Runs()), ","); got != "smoke-run-c,smoke-run-d,smoke-run-e,run-h,run-i,run-j" {
		t.Errorf("kept runs %s, want the smoke runs c-e then 1k-pods h-j, as listed", got)
	}
	var out bytes.Buffer
	if err := Write(&out, h, FormatText, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "3 runs, 2026-12-09 02:00 to 2026-12-11 02:00 (the newest; 7 older left out)") {
		t.Errorf("text output does not say runs were left out:\n%s", out.String())
	}
}

func TestLastIsByStartTimeNotOrder(t *testing.T) {
	runs := synthetic(1, 6, 0, 1)
	// Listed out of time order: the newest by start are d, e and a.
	runs[0].Start = t0.Add(30 * 24 * time.Hour)
	o := DefaultOptions()
	o.Last = 3
	h := Analyze(runs, o)
	// Kept in the order given, as Analyze keeps its input's order.
	if got := strings.Join(runIDs(h.Groups[0].Runs), ","); got != "run-a,run-e,run-f" {
		t.Errorf("runs %s, want run-a (newest start), run-e, run-f", got)
	}
}

func TestLastZeroOrMoreThanTheRunsKeepsAll(t *testing.T) {
	for _, n := range []int{0, 10, 11, 100} {
		o := DefaultOptions()
		o.Last = n
		h := Analyze(synthetic(1, 10, 0, 1), o)
		if g := h.Groups[0]; len(g.Runs) != 10 || g.Older != 0 || len(h.Runs()) != 10 {
			t.Errorf("Last %d: %d runs, %d older, %d exported; want all 10", n, len(g.Runs), g.Older, len(h.Runs()))
		}
	}
}

func TestLastChangesWhatTheDetectorSees(t *testing.T) {
	// A regression from run 11 of 20: over the newest 8 (runs 13-20) the
	// series is all after the change, and no change point is left.
	runs := synthetic(1, 20, 11, 2.2)
	if h := Analyze(runs, DefaultOptions()); len(h.Groups[0].Changes) == 0 {
		t.Fatal("the full series has no change point; the test's premise is wrong")
	}
	o := DefaultOptions()
	o.Last = 8
	h := Analyze(runs, o)
	if c := h.Groups[0].Changes; len(c) != 0 {
		t.Errorf("newest 8 runs, all after the change: change points %+v, want none", c)
	}
	// The newest 14 (runs 7-20) hold the change at their run 5.
	o.Last = 14
	h = Analyze(runs, o)
	found := false
	for _, c := range h.Groups[0].Changes {
		if c.Figure == "mutating-p99" && c.Run == 5 && c.RunID == "run-k" {
			found = true
		}
	}
	if !found {
		t.Errorf("newest 14 runs: changes %+v, want mutating-p99 at run 5 (run-k)", h.Groups[0].Changes)
	}
}
