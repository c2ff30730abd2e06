package watch

import (
	"errors"
	"fmt"
	"net/http"
)

// StatusError is a non-2xx answer from the API server, with the fields of
// the metav1.Status it carried.
type StatusError struct {
	Code    int
	Reason  string
	Message string
	Verb    string
	Path    string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Verb, e.Path, e.Code, e.Reason, e.Message)
}

// Reasons of metav1.Status the emulation reacts to.
const (
	ReasonExpired       = "Expired"
	ReasonGone          = "Gone"
	ReasonAlreadyExists = "AlreadyExists"
	ReasonConflict      = "Conflict"
	ReasonNotFound      = "NotFound"
	ReasonTooManyReqs   = "TooManyRequests"
)

// CodeOf returns the HTTP status of err, or 0 when err is not a StatusError.
func CodeOf(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// ReasonOf returns the metav1.Status reason of err, or "".
func ReasonOf(err error) string {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Reason
	}
	return ""
}

// IsExpired is the reflector's isExpiredError: 410 with reason Expired or
// Gone ("too old resource version").
func IsExpired(err error) bool {
	r := ReasonOf(err)
	return r == ReasonExpired || r == ReasonGone || (CodeOf(err) == http.StatusGone && r == "")
}

// IsTooManyRequests reports a 429.
func IsTooManyRequests(err error) bool { return CodeOf(err) == http.StatusTooManyRequests }

// IsNotFound reports a 404.
func IsNotFound(err error) bool { return CodeOf(err) == http.StatusNotFound }

// IsAlreadyExists reports a create that found the object already there.
func IsAlreadyExists(err error) bool {
	return CodeOf(err) == http.StatusConflict && ReasonOf(err) == ReasonAlreadyExists
}

// IsConflict reports a 409 other than AlreadyExists (a stale resourceVersion
// or a failed precondition).
func IsConflict(err error) bool {
	return CodeOf(err) == http.StatusConflict && ReasonOf(err) != ReasonAlreadyExists
}

// isTooLargeResourceVersion matches the API server's "Too large resource
// version" answer (504 Timeout with cause ResourceVersionTooLarge); the
// message check is the one client-go keeps for older servers.
func isTooLargeResourceVersion(err error) bool {
	var se *StatusError
	if !errors.As(err, &se) {
		return false
	}
	return se.Code == http.StatusGatewayTimeout && containsFold(se.Message, "too large resource version")
}

func containsFold(s, sub string) bool {
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		match := true
		for j := 0; j < n; j++ {
			a, b := s[i+j], sub[j]
			if 'A' <= a && a <= 'Z' {
				a += 'a' - 'A'
			}
			if a != b {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}
