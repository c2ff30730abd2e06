package cli

import (
	"context"
	"errors"
	"strings"

	"go.uber.org/zap"
)

// Exit statuses. The gate contract: 0 every SLO held, 2 an SLO was breached,
// 3 inconclusive (the simulator fell behind, so the SLO figures are not the
// API server's alone), 1 churn itself failed, 130 interrupted.
const (
	ExitOK           = 0
	ExitFailure      = 1
	ExitSLOBreached  = 2
	ExitInconclusive = 3
	ExitInterrupted  = 130
)

// InconclusiveError reports a run that completed while the simulator (kwok,
// churn's engine or its emulated agents) fell behind: its verdict cannot be
// trusted either way. Behind names the checks.
type InconclusiveError struct {
	Behind []string
}

func (e *InconclusiveError) Error() string {
	return "inconclusive: the simulator fell behind: " + strings.Join(e.Behind, ", ")
}

// ErrInterrupted is the cancellation cause set by the first Ctrl-C.
var ErrInterrupted = errors.New("interrupted")

// SLOBreachError reports that a run completed but at least one SLO did not
// hold. It and RegressionError (churn compare) are the errors that map to
// exit status 2.
type SLOBreachError struct {
	Breached []string
}

func (e *SLOBreachError) Error() string {
	msg := "SLO breached:"
	for i, b := range e.Breached {
		if i > 0 {
			msg += ","
		}
		msg += " " + b
	}
	return msg
}

// ExitCode maps the error a command returned to churn's exit status and logs
// it once.
func ExitCode(ctx context.Context, err error, logger *zap.Logger) int {
	if err == nil {
		return ExitOK
	}
	var breach *SLOBreachError
	var regression *RegressionError
	var inconclusive *InconclusiveError
	switch {
	case errors.As(err, &inconclusive):
		logger.Error("gate inconclusive: the simulator fell behind", zap.Strings("behind", inconclusive.Behind))
		return ExitInconclusive
	case errors.As(err, &breach):
		logger.Error("gate failed", zap.Strings("breached", breach.Breached))
		return ExitSLOBreached
	case errors.As(err, &regression):
		logger.Error("compare gate failed", zap.Strings("breached", regression.Breached),
			zap.Strings("regressed", regression.Regressed))
		return ExitSLOBreached
	case errors.Is(err, ErrInterrupted) || errors.Is(context.Cause(ctx), ErrInterrupted):
		logger.Warn("interrupted", zap.Error(err))
		return ExitInterrupted
	default:
		logger.Error("churn failed", zap.Error(err))
		return ExitFailure
	}
}
