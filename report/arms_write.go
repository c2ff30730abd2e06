package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/churn-dev/churn/results"
)

// Files of a side-by-side comparison, in its output directory.
const (
	ArmsJSONFile = "comparison.json"
	ArmsHTMLFile = "comparison.html"
)

// WriteArms prints c as text: the arms, the findings, the SLO table and the
// figures, one column per arm.
func WriteArms(w io.Writer, c ArmsComparison) error {
	var b strings.Builder
	fmt.Fprintf(&b, "profile %s · seed %d · %d arms\n", orDash(c.Profile), c.Seed, len(c.Arms))
	for _, a := range c.Arms {
		line := fmt.Sprintf("  %-16s %s", a.Name, armVerdict(a))
		if a.Run.CPUBudget != "" {
			line += " · control plane " + a.Run.CPUBudget
		}
		if a.Dir != "" {
			line += " · " + a.Dir
		}
		fmt.Fprintln(&b, line)
	}
	for _, warn := range c.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", warn)
	}
	b.WriteString("\n")

	head := func(first string) string {
		cols := []string{first}
		for _, a := range c.Arms {
			cols = append(cols, strings.ToUpper(a.Name))
		}
		return strings.Join(cols, "\t") + "\t"
	}
	if len(c.SLOs) > 0 {
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, head("SLO\tTHRESHOLD"))
		for _, s := range c.SLOs {
			cols := []string{s.Name, s.Threshold}
			for i := range c.Arms {
				cols = append(cols, sloCell(s, i))
			}
			fmt.Fprintln(tw, strings.Join(cols, "\t")+"\t")
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("format SLO table: %w", err)
		}
		b.WriteString("\n")
	}
	if len(c.Figures) > 0 {
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, head("FIGURE"))
		for _, f := range c.Figures {
			cols := []string{f.Name}
			for _, v := range f.Values {
				cols = append(cols, formatFigure(f.Unit, v))
			}
			fmt.Fprintln(tw, strings.Join(cols, "\t")+"\t")
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("format figure table: %w", err)
		}
		b.WriteString("\n")
	}
	if len(c.Validity) > 0 {
		tw := newTable(&b)
		fmt.Fprintln(tw, head("SIMULATOR CHECK\tTHRESHOLD"))
		for _, v := range c.Validity {
			cols := []string{v.Name, orDash(v.Threshold)}
			for i := range c.Arms {
				cols = append(cols, armValidityCell(v, i))
			}
			fmt.Fprintln(tw, strings.Join(cols, "\t")+"\t")
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("format simulator table: %w", err)
		}
		b.WriteString("\n")
	}
	if hasInstall(c) {
		tw := newTable(&b)
		fmt.Fprintln(tw, head("INSTALL PHASE (not judged)"))
		cols := []string{"settle"}
		for _, a := range c.Arms {
			cols = append(cols, orDash(a.Run.Settle))
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t")+"\t")
		for _, f := range c.Install {
			cols := []string{f.Name}
			for _, v := range f.Values {
				cols = append(cols, formatFigure(f.Unit, v))
			}
			fmt.Fprintln(tw, strings.Join(cols, "\t")+"\t")
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("format install table: %w", err)
		}
		b.WriteString("\n")
	}
	for _, f := range c.Findings {
		fmt.Fprintf(&b, "- %s\n", f)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write comparison: %w", err)
	}
	return nil
}

// sloCell is "3.2s BREACHED", "390ms ok", or why the SLO has no value.
func sloCell(s ArmSLORow, i int) string {
	switch s.Status[i] {
	case "":
		return "-"
	case "passed":
		return orDash(s.Measured[i]) + " ok"
	}
	return orDash(s.Measured[i]) + " " + strings.ToUpper(s.Status[i])
}

// armValidityCell is "ok", "1.2s BEHIND", "skipped" or "-".
func armValidityCell(v ArmValidityRow, i int) string {
	switch v.Status[i] {
	case "":
		return "-"
	case results.ValiditySkipped:
		return "skipped"
	}
	return orDash(v.Measured[i]) + " " + validityStatusText(v.Status[i])
}

// hasInstall says whether any arm had a mesh install phase.
func hasInstall(c ArmsComparison) bool {
	if len(c.Install) > 0 {
		return true
	}
	for _, a := range c.Arms {
		if a.Run.Settle != "" {
			return true
		}
	}
	return false
}

func armVerdict(a ArmRun) string {
	switch {
	case a.Run.RunID == "" && a.Error != "":
		return "FAILED TO RUN: " + a.Error
	case a.Run.Inconclusive:
		text := "INCONCLUSIVE (behind: " + strings.Join(a.Run.Behind, ", ") + ")"
		if len(a.Breached) > 0 {
			text += ", breached " + strings.Join(a.Breached, ", ") + " (not trusted)"
		}
		if a.Error != "" {
			text += "; error: " + a.Error
		}
		return text
	case len(a.Breached) > 0:
		return "FAIL (breached " + strings.Join(a.Breached, ", ") + ")"
	case a.Error != "":
		return "ERROR: " + a.Error
	case a.Run.Passed:
		return "PASS"
	}
	return "FAIL"
}

// WriteArmsFiles writes comparison.json and comparison.html into dir and
// returns the HTML's path.
func WriteArmsFiles(dir string, c ArmsComparison, arms []Arm) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode comparison: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ArmsJSONFile), append(data, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", ArmsJSONFile, err)
	}
	path := filepath.Join(dir, ArmsHTMLFile)
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", path, err)
	}
	if err := WriteArmsHTML(f, c, arms); err != nil {
		_ = f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return path, nil
}
