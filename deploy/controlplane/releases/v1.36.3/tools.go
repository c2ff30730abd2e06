//go:build tools

// Package release records the binaries this module builds so that
// `go mod tidy` keeps their dependencies.
package release

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
