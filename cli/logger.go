package cli

import (
	"io"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// NewLogger builds churn's console logger. Progress lines go to stdout; logs
// go to w so they never interleave with machine-readable output.
func NewLogger(w io.Writer) (*zap.Logger, func(), error) {
	enc := zap.NewDevelopmentEncoderConfig()
	enc.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
	enc.EncodeLevel = zapcore.CapitalLevelEncoder
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(w), zap.InfoLevel)
	logger := zap.New(core)
	return logger, func() { _ = logger.Sync() }, nil
}
