package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/churn-dev/churn/version"
)

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print churn's version and the pinned control-plane component versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%-24s %s\n", "churn", version.Churn)
			for _, c := range version.Components() {
				fmt.Fprintf(out, "%-24s %s\n", c.Name, c.Version)
			}
			return nil
		},
	}
}
