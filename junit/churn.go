package junit

import (
	"fmt"
	"strings"
	"time"

	"github.com/churn-dev/churn/report"
	"github.com/churn-dev/churn/results"
)

// Class names group the cases in a CI system's test tree.
const (
	classSLO       = "churn.slo"
	classFigure    = "churn.figure"
	classSimulator = "churn.simulator"
	// classDisruption holds a case per fault, upgrade or rollout.
	classDisruption = "churn.disruption"
)

// FromRun is one run's suite: a case per SLO, and per simulator check
// that fell behind.
func FromRun(r *results.Result) Suite {
	s := Suite{Name: fmt.Sprintf("churn run %s (%s)", r.Profile.Name, r.RunID)}
	if len(r.Phases) > 0 {
		first, last := r.Phases[0].Start, r.Phases[len(r.Phases)-1].End
		s.Timestamp = first.UTC().Format("2006-01-02T15:04:05")
		s.Time = fmt.Sprintf("%.3f", last.Sub(first).Seconds())
	}
	s.Property("profile", r.Profile.Name)
	s.Property("seed", fmt.Sprint(r.Seed))
	s.Property("mesh", orNone(r.Mesh))
	s.Property("verdict", runVerdict(r.Verdict))
	s.Property("summary", r.Verdict.Summary)
	inconclusive := ""
	if r.Verdict.Inconclusive {
		inconclusive = "inconclusive: the simulator fell behind (" + strings.Join(r.Verdict.Behind, ", ") + "), so the SLO figures are not the API server's alone"
	}
	for _, slo := range r.SLOs {
		s.Add(sloCase(slo.Name, slo.Status, slo.Measured, slo.Threshold, slo.Reason, inconclusive))
	}
	addBehind(&s, r)
	for _, d := range r.Disruptions {
		s.Add(disruptionCase(d))
	}
	return s
}

// disruptionCase is one fault, upgrade or rollout: failed when a step
// failed or the plan did not finish (the rehearsal did not happen as
// planned), its steps' timeline in the output either way. What the API
// server went through is judged by the SLO cases.
func disruptionCase(d results.Disruption) Case {
	c := Case{Name: d.Kind + " " + d.Spec, Classname: classDisruption}
	var b strings.Builder
	for _, st := range d.Steps {
		fmt.Fprintf(&b, "%s: %s", st.Name, st.Started.UTC().Format("15:04:05"))
		if !st.Ready.IsZero() {
			fmt.Fprintf(&b, ", ready after %s", st.Ready.Sub(st.Started).Round(100*time.Millisecond))
		}
		if im := st.Impact; im != nil {
			fmt.Fprintf(&b, ", outage %.1fs, 429s %.0f, LISTs+watches at most %d/s", im.OutageSeconds, im.Throttled, im.PeakPerSecond)
		}
		if st.Error != "" {
			fmt.Fprintf(&b, ", failed: %s", st.Error)
		}
		b.WriteString("\n")
	}
	if d.Error != "" {
		c.Failure = &Message{Type: "DisruptionIncomplete", Message: d.Error, Text: b.String()}
	} else {
		c.SystemOut = b.String()
	}
	return c
}

// sloCase judges one SLO: breached is a failure, skipped or disabled a
// skip, and every SLO of an inconclusive run a skip naming why.
func sloCase(name, status, measured, threshold, reason, inconclusive string) Case {
	c := Case{Name: name, Classname: classSLO}
	text := fmt.Sprintf("measured %s, threshold %s", measured, threshold)
	switch {
	case inconclusive != "":
		c.Skipped = &Message{Message: inconclusive + "; " + text}
	case status == results.SLOBreached:
		c.Failure = &Message{Type: "SLOBreached", Message: fmt.Sprintf("measured %s > threshold %s", measured, threshold), Text: reason}
	case status == results.SLOSkipped:
		c.Skipped = &Message{Message: "no data, not judged: " + orDefault(reason, "skipped")}
	case status == results.SLODisabled:
		c.Skipped = &Message{Message: "disabled by configuration"}
	default:
		c.SystemOut = fmt.Sprintf("measured %s <= threshold %s", measured, threshold)
	}
	return c
}

// addBehind adds an error case per simulator check that fell behind.
func addBehind(s *Suite, r *results.Result) {
	if r.Validity == nil {
		return
	}
	for _, ch := range r.Validity.Checks {
		if ch.Status != results.ValidityBehind {
			continue
		}
		s.Add(Case{Name: "simulator " + ch.Name, Classname: classSimulator, Error: &Message{Type: "Inconclusive",
			Message: fmt.Sprintf("the simulator fell behind: measured %s, threshold %s", ch.Measured, ch.Threshold), Text: ch.Reason}})
	}
}

// FromRepeats is the combined suite of repeated runs: a case per SLO,
// judged by its median across the runs.
func FromRepeats(rep report.Repeats) Suite {
	s := Suite{Name: fmt.Sprintf("churn run %s (median of %d runs)", rep.Runs.Profile, len(rep.Dirs))}
	s.Property("profile", rep.Runs.Profile)
	s.Property("runs", fmt.Sprint(len(rep.Dirs)))
	s.Property("inconclusiveRuns", fmt.Sprint(rep.InconclusiveRuns))
	s.Property("verdict", verdictWord(rep.Inconclusive(), len(rep.Breached) == 0))
	s.Property("summary", rep.Summary)
	inconclusive := ""
	if rep.Inconclusive() {
		inconclusive = fmt.Sprintf("inconclusive: the simulator fell behind in %d of %d runs", rep.InconclusiveRuns, len(rep.Dirs))
	}
	for _, r := range rep.SLOs {
		c := sloCase(r.Name, r.Status, "median "+orDefault(r.Measured, "-"), r.Threshold, "", inconclusive)
		if c.Failure != nil {
			c.Failure.Text = fmt.Sprintf("%d of %d runs breached", r.Breaches, r.Judged)
		}
		s.Add(c)
	}
	return s
}

// FromComparison is a comparison's suite: a case per SLO (a candidate
// breach or a regression fails it) and per judged figure.
func FromComparison(c report.Comparison) Suite {
	s := Suite{Name: fmt.Sprintf("churn compare %s", c.Candidate.Profile)}
	s.Property("base", strings.Join(runIDs(c.Base), ","))
	s.Property("candidate", strings.Join(runIDs(c.Candidate), ","))
	s.Property("tolerance", fmt.Sprint(c.Tolerance))
	rule := "single-run"
	if c.Statistics {
		rule = "statistics"
	}
	s.Property("rule", rule)
	s.Property("verdict", verdictWord(c.Inconclusive(), c.Passed()))
	s.Property("summary", report.GateSummary(c))
	inconclusive := ""
	if c.Inconclusive() {
		inconclusive = "inconclusive: the candidate's simulator fell behind (" + strings.Join(c.Candidate.Behind, ", ") + ")"
	}
	for _, slo := range c.SLOs {
		tc := sloCase(slo.Name, slo.CandidateStatus, orDefault(slo.CandidateMeasured, "-"), slo.Threshold, "", inconclusive)
		tc.Name = "SLO " + slo.Name
		if inconclusive == "" && tc.Failure == nil && slo.Regressed {
			tc.Skipped, tc.SystemOut = nil, ""
			tc.Failure = regression(slo.Row)
		}
		s.Add(tc)
	}
	for _, f := range c.Figures {
		if f.Better == report.Informational || f.Stats == nil {
			continue
		}
		tc := Case{Name: f.Name, Classname: classFigure}
		switch {
		case inconclusive != "":
			tc.Skipped = &Message{Message: inconclusive + "; " + report.DescribeChange(f)}
		case f.Regressed:
			tc.Failure = regression(f)
		default:
			tc.SystemOut = report.DescribeChange(f) + ": " + f.Stats.Verdict + " (" + f.Stats.Reason + ")"
		}
		s.Add(tc)
	}
	return s
}

func regression(r report.Row) *Message {
	text := r.Stats.Reason
	if r.Stats.P != nil {
		text = fmt.Sprintf("p=%.3f; %s", *r.Stats.P, text)
	}
	return &Message{Type: "Regression", Message: "regressed: " + report.DescribeChange(r), Text: text}
}

func runIDs(r report.RunInfo) []string {
	if len(r.RunIDs) > 0 {
		return r.RunIDs
	}
	return []string{r.RunID}
}

func runVerdict(v results.Verdict) string { return verdictWord(v.Inconclusive, v.Passed) }

func verdictWord(inconclusive, passed bool) string {
	switch {
	case inconclusive:
		return "inconclusive"
	case passed:
		return "passed"
	}
	return "failed"
}

func orNone(s string) string { return orDefault(s, "none") }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
