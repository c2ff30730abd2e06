//go:build tools

// Package istiod records the binary this module builds (pilot-discovery,
// the istiod process) so that `go mod tidy` keeps its dependencies.
package istiod

import (
	_ "istio.io/istio/pilot/cmd/pilot-discovery"
)
