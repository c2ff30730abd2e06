package report

import (
	"fmt"
	"strings"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
)

// budgetLine describes the control plane's CPU budget and how much it
// throttled the control plane per phase; "" for a remote target or a
// result written before budgets were recorded.
func budgetLine(p *results.CPUPriority) string {
	if p == nil {
		return ""
	}
	b := p.Budget
	var s string
	switch {
	case b.Enforced():
		s = fmt.Sprintf("%s of %d cores (%s, %d per %d µs; asked %s); kwok and churn keep %s",
			results.FormatCores(b.AppliedCores), b.CPUs, b.Mechanism, b.QuotaMicros, b.PeriodMicros, b.Asked, results.FormatCores(b.SimulatorCores))
		if t := throttleText(b.Throttling); t != "" {
			s += "; throttled: " + t
		}
	case b.Cores > 0:
		s = fmt.Sprintf("%s asked, NOT ENFORCED: %s", results.CoresText(b.Cores), orDash(b.Reason))
	default:
		s = "none"
		if b.Reason != "" {
			s += " (" + b.Reason + ")"
		}
	}
	return s
}

// throttleText is "setup 12% of periods (3.1s), churn 40% (41.2s)".
func throttleText(ts []results.PhaseThrottle) string {
	var parts []string
	for i, t := range ts {
		if t.Periods == 0 {
			continue
		}
		share := observers.FormatPercent(t.ThrottledShare())
		if i == 0 || len(parts) == 0 {
			share += " of periods"
		}
		parts = append(parts, fmt.Sprintf("%s %s (%s)", t.Phase, share, observers.FormatSeconds(t.ThrottledSeconds)))
	}
	return strings.Join(parts, ", ")
}

// budgetShort is the budget in a few words for a comparison's columns; ""
// when the run does not say.
func budgetShort(p *results.CPUPriority) string {
	if p == nil {
		return ""
	}
	return p.Budget.Short()
}
