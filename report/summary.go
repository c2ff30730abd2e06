package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/results"
)

// Summary prints the terminal summary of a run: the verdict and its notes,
// the SLO table, the simulator's checks, the mesh's install phase, outages
// and process events, the cost table (churn next to the control
// plane) and where the report is. reportPath may be empty.
func Summary(w io.Writer, r *results.Result, reportPath string) error {
	d := loadRunData(r)
	var b strings.Builder
	head := fmt.Sprintf("churn run %s", r.RunID)
	if r.Profile.Name != "" {
		head += " · profile " + r.Profile.Name
	}
	if r.Target.Kind != "" {
		head += " · target " + r.Target.Kind
		if r.Target.KubernetesVersion != "" {
			head += " (Kubernetes " + r.Target.KubernetesVersion
			if kv := r.Target.Binaries["kwok"]; kv != "" {
				head += ", kwok " + kv
			}
			head += ")"
		}
	}
	mesh := r.Mesh
	if mesh == "" {
		mesh = "none"
	}
	head += " · mesh " + mesh
	fmt.Fprintln(&b, head)
	if args := ExtraArgsText(r.Target.ExtraArgs); args != "" {
		fmt.Fprintf(&b, "Control plane started with extra arguments: %s\n", args)
	}
	if line := budgetLine(r.Target.CPUPriority); line != "" {
		fmt.Fprintf(&b, "Control plane CPU budget: %s\n", line)
	}
	fmt.Fprintf(&b, "Verdict: %s\n", verdictText(r.Verdict))
	for _, n := range extraNotes(r.Verdict) {
		fmt.Fprintf(&b, "Note: %s\n", n)
	}
	b.WriteString("\n")

	if len(r.SLOs) > 0 {
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SLO\tTHRESHOLD\tMEASURED\tSTATUS\tWORST\tWINDOW")
		for _, s := range r.SLOs {
			worst := s.Worst
			if s.Status == results.SLOSkipped {
				worst = s.Reason
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Threshold, s.Measured, strings.ToUpper(s.Status), worst, d.windowText(s))
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("format SLO table: %w", err)
		}
		b.WriteString("\n")
	}
	// Absent from results written before schema version 2.
	if rows := validityRows(r.Validity); len(rows) > 0 {
		if err := writeValidity(&b, rows); err != nil {
			return err
		}
	}
	if inst := installViewOf(r.Install); inst != nil {
		if err := writeInstall(&b, inst); err != nil {
			return err
		}
	}

	if a := r.Availability; a != nil {
		fmt.Fprintf(&b, "Availability: %d checks, %d outage(s), longest %s, total %s down\n",
			a.Checks, len(a.Outages), observers.FormatSeconds(a.LongestSeconds), observers.FormatSeconds(a.DowntimeSeconds))
		for _, o := range d.outageRows() {
			open := ""
			if o.Open {
				open = " (still down at the end)"
			}
			fmt.Fprintf(&b, "  outage %s – %s%s  %s  %s\n", o.From, o.To, open, o.Duration, o.Failed)
		}
		for _, e := range d.eventRows() {
			fmt.Fprintf(&b, "  %s %s %s %s\n", e.At, e.Name, e.Kind, e.Detail)
		}
		b.WriteString("\n")
	}
	if rows := disruptionRows(r.Disruptions, churnStartOf(r)); len(rows) > 0 {
		b.WriteString("Disruptions (times from the start of churn):\n")
		for _, d := range rows {
			if d.Plan {
				fmt.Fprintf(&b, "  %s %s: %s to %s (%s): %s\n", d.Kind, d.Spec, d.Start, d.End, orDash(d.Took), d.Outcome)
				if d.Impact != "" {
					fmt.Fprintf(&b, "    with %s\n", d.Impact)
				}
				continue
			}
			fmt.Fprintf(&b, "    %-40s %s stopped %s ready %s end %s: %s\n", d.Step, d.Start, d.Stopped, d.Ready, d.End, d.Outcome)
			if d.Impact != "" {
				fmt.Fprintf(&b, "      %s\n", d.Impact)
			}
		}
		b.WriteString("\n")
	}
	if err := writeAPIServerTable(&b, apiServerRows(r)); err != nil {
		return err
	}

	if len(r.Processes) > 0 {
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PROCESS\tCPU s\tAVG CORES\tPEAK CORES\tPEAK RSS\tCPU SHARE\tPRIORITY")
		for _, p := range processRows(r.Processes) {
			name := p.Name
			if p.Tester {
				name += " (tester)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, p.CPU, p.Avg, p.Peak, p.RSS, p.Share, p.Priority)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("format process table: %w", err)
		}
		if line := costLine(r.Processes); line != "" {
			b.WriteString(line + "\n")
		}
		b.WriteString("\n")
	}
	if err := writeMeshTable(&b, r.MeshStats); err != nil {
		return err
	}
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "error: %s\n", e)
	}
	if reportPath != "" {
		fmt.Fprintf(&b, "Report: %s\n", reportPath)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

// costLine compares churn's CPU with the API servers' (all of them, when
// several run behind a load balancer).
func costLine(ps []results.ProcessUsage) string {
	var tester *results.ProcessUsage
	var apiCPU float64
	servers := 0
	for i := range ps {
		switch {
		case ps[i].Name == observers.TesterProcess:
			tester = &ps[i]
		case ps[i].Name == "kube-apiserver" || strings.HasPrefix(ps[i].Name, "kube-apiserver-"):
			apiCPU += ps[i].CPUSeconds
			servers++
		}
	}
	if tester == nil || apiCPU == 0 {
		return ""
	}
	whose := "kube-apiserver's"
	if servers > 1 {
		whose = fmt.Sprintf("the %d kube-apiservers'", servers)
	}
	return fmt.Sprintf("churn used %.1f CPU s, %s of %s %.1f CPU s.",
		tester.CPUSeconds, observers.FormatPercent(tester.CPUSeconds/apiCPU), whose, apiCPU)
}
