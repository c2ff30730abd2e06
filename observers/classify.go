package observers

import (
	"context"
	"errors"
	"net"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Error classes of a failed API call.
const (
	ErrorTimeout = "timeout"
	ErrorRefused = "refused"
	Error429     = "429"
	Error5xx     = "5xx"
	ErrorOther   = "other"
)

// classifyError sorts a failed call by what it says about the server:
// overloaded (429, timeout), broken (5xx) or gone (refused).
func classifyError(err error) string {
	if err == nil {
		return ""
	}
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		apierrors.IsTimeout(err), apierrors.IsServerTimeout(err),
		errors.As(err, &netErr) && netErr.Timeout():
		return ErrorTimeout
	case apierrors.IsTooManyRequests(err):
		return Error429
	case errors.Is(err, syscall.ECONNREFUSED):
		return ErrorRefused
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Code >= 500 {
		return Error5xx
	}
	return ErrorOther
}
