package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/churn-dev/churn/results"
	"github.com/churn-dev/churn/stats"
)

// RepeatSLO is one SLO across repeated runs of a profile.
type RepeatSLO struct {
	Name      string  `json:"name"`
	Threshold string  `json:"threshold"`
	Limit     float64 `json:"limit"`
	Unit      string  `json:"unit"`
	// Status is the median's against the limit, or the first run's when no
	// run measured it (skipped, disabled).
	Status   string        `json:"status"`
	Measured string        `json:"measured"`
	Values   stats.Summary `json:"values"`
	// Breaches counts the runs that breached it; Judged those that
	// measured it.
	Breaches int `json:"breaches"`
	Judged   int `json:"judged"`
}

// Repeats is the combined verdict of repeated runs of one profile: per SLO
// the median across runs, its noise and how many runs breached. It is
// inconclusive when most runs were; otherwise the inconclusive runs are
// left out and the SLOs whose median breaches fail it.
type Repeats struct {
	Runs             RunInfo     `json:"runs"`
	Dirs             []string    `json:"dirs"`
	InconclusiveRuns int         `json:"inconclusiveRuns"`
	SLOs             []RepeatSLO `json:"slos"`
	Breached         []string    `json:"breached,omitempty"`
	Summary          string      `json:"summary"`
}

// Inconclusive reports whether most runs' simulators fell behind.
func (r Repeats) Inconclusive() bool { return r.Runs.Inconclusive }

// SummarizeRepeats combines the runs (dirs are their results directories,
// for the record). rs must not be empty.
func SummarizeRepeats(rs []*results.Result, dirs []string) Repeats {
	s := Repeats{Runs: sideInfo(rs), Dirs: dirs}
	var c Comparison
	judged := c.trusted("repeats", rs, &s.Runs)
	for _, r := range rs {
		if r.Verdict.Inconclusive {
			s.InconclusiveRuns++
		}
	}
	var names []string
	seen := map[string]bool{}
	for _, r := range rs {
		for _, slo := range r.SLOs {
			if !seen[slo.Name] {
				seen[slo.Name] = true
				names = append(names, slo.Name)
			}
		}
	}
	for _, name := range names {
		side := sloSide(judged, name)
		if side.first == nil {
			side = sloSide(rs, name)
		}
		row := RepeatSLO{Name: name, Threshold: side.first.Threshold, Limit: side.first.Limit, Unit: side.first.Unit,
			Status: side.status(), Measured: side.measured(side.first.Unit), Values: stats.Summarize(side.values),
			Breaches: side.breaches, Judged: len(side.values)}
		if row.Status == results.SLOBreached {
			s.Breached = append(s.Breached, name)
		}
		s.SLOs = append(s.SLOs, row)
	}
	n := len(rs)
	switch {
	case s.Inconclusive():
		s.Summary = fmt.Sprintf("INCONCLUSIVE: the simulator fell behind in %d of %d runs", s.InconclusiveRuns, n)
	case len(s.Breached) > 0:
		s.Summary = fmt.Sprintf("FAIL: the median of %d runs breached %s", len(judged), strings.Join(s.Breached, ", "))
	default:
		s.Summary = fmt.Sprintf("PASS: the median of %d runs held every judged SLO", len(judged))
	}
	if s.InconclusiveRuns > 0 && !s.Inconclusive() {
		s.Summary += fmt.Sprintf(" (%d inconclusive run(s) left out)", s.InconclusiveRuns)
	}
	return s
}

// WriteRepeats prints the combined verdict: per SLO the median, its
// noise, the spread and how many runs breached.
func WriteRepeats(w io.Writer, s Repeats) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Repeated runs: %s\n\n", describeRun(s.Runs))
	tw := newTable(&b)
	fmt.Fprintln(tw, "SLO\tTHRESHOLD\tMEDIAN\tNOISE\tMIN\tMAX\tRUNS BREACHED\tSTATUS\t")
	for _, r := range s.SLOs {
		minText, maxText := "-", "-"
		if r.Judged > 0 {
			minText, maxText = formatFigure(r.Unit, new(r.Values.Min)), formatFigure(r.Unit, new(r.Values.Max))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\t%s\t\n", r.Name, r.Threshold, orDash(r.Measured), stats.NoiseText(r.Values),
			minText, maxText, r.Breaches, r.Judged, strings.ToUpper(orDash(r.Status)))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("format repeats: %w", err)
	}
	b.WriteString("\nAn SLO's status is its median's across the runs that kept up; the noise is the 95% confidence interval of the median, or the range below 6 runs.\n")
	fmt.Fprintf(&b, "Verdict: %s\n", s.Summary)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write repeats: %w", err)
	}
	return nil
}
