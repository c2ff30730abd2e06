package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/runner"
)

// newProfilesCommand lists the built-in profiles and shows any profile with
// its defaults applied.
func newProfilesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profiles",
		Short: "List the built-in profiles",
		Long: `List the built-in profiles, one line each.

Any --profile flag takes one of these names or the path of a YAML file with
apiVersion churn.dev/v1alpha1 and kind Profile; fields the file omits take
their defaults (see "churn profiles show smoke" for a complete example).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			all, err := profiles.List()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tNODES\tPODS\tCHURN\tDESCRIPTION")
			for _, p := range all {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", p.Name, p.Nodes.Count, p.TargetPods(), p.Churn.Duration.Duration, p.Description)
			}
			if err := tw.Flush(); err != nil {
				return fmt.Errorf("write profile list: %w", err)
			}
			return nil
		},
	}
	cmd.AddCommand(newProfilesShowCommand())
	return cmd
}

func newProfilesShowCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME|PATH",
		Short: "Print a profile as YAML with every default applied, then validate it",
		Long: `Print a profile as YAML with every default applied.

The profile is validated after printing, so "churn profiles show my.yaml"
also checks a file: every problem is reported with its field path and the
exit status is 1.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := profiles.Load(args[0])
			if err != nil {
				return err
			}
			b, err := profiles.Marshal(p)
			if err != nil {
				return err
			}
			if _, err := cmd.OutOrStdout().Write(b); err != nil {
				return fmt.Errorf("write profile: %w", err)
			}
			// The flags churn sets itself are known where it builds the
			// command lines, not in the profile schema.
			if err := p.Validate(); err != nil {
				return err
			}
			return runner.ValidateControlPlaneArgs(runner.Options{Profile: p})
		},
	}
}
