package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/churn-dev/churn/report"
	"github.com/churn-dev/churn/results"
)

const reportLong = `Re-render report.html from a run's results.json and print the run's summary.

DIR is a run's output directory (or the results.json file itself); the
report is written beside results.json. Rendering needs no cluster and no
network: the report is one self-contained HTML file.`

// newReportCommand builds "churn report DIR".
func newReportCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "report DIR",
		Short: "Re-render report.html from a run's results.json",
		Long:  reportLong,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := results.Read(args[0])
			if err != nil {
				return err
			}
			path, err := report.WriteHTMLFile(resultsDir(args[0]), r)
			if err != nil {
				return err
			}
			if err := report.Summary(cmd.OutOrStdout(), r, path); err != nil {
				return fmt.Errorf("print summary: %w", err)
			}
			return nil
		},
	}
}

// resultsDir is the directory holding a results file: path itself when it
// is a directory, its parent when it names the file.
func resultsDir(path string) string {
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		return filepath.Dir(path)
	}
	return path
}
