package cli

import (
	"context"

	"github.com/spf13/cobra"
)

// withoutCancel gives cleanup a context that survives the first Ctrl-C: the
// point of that interrupt is to let teardown finish.
func withoutCancel(cmd *cobra.Command) context.Context {
	return context.WithoutCancel(cmd.Context())
}
