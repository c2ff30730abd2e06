//go:build tools

// Package cilium records the binaries this module builds (cilium-operator,
// and through ./agent the cilium-agent without a datapath) so that
// `go mod tidy` keeps their dependencies.
package cilium

import (
	_ "github.com/cilium/cilium/operator"
)
