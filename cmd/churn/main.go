// Command churn is a control-plane scale chaos tester for Kubernetes.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/churn-dev/churn/agents"
	"github.com/churn-dev/churn/cli"
)

func main() {
	agents.TuneGC()
	ctx, stop := cli.SignalContext(context.Background())
	defer stop()
	os.Exit(run(ctx))
}

func run(ctx context.Context) int {
	logger, flush, err := cli.NewLogger(os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "churn: %v\n", err)
		return cli.ExitFailure
	}
	defer flush()
	cmd := cli.NewRootCommand(logger)
	return cli.ExitCode(ctx, cmd.ExecuteContext(ctx), logger)
}
