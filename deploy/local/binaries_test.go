package local

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/churn-dev/churn/version"
)

func TestCheckBinariesForReleaseTakesKubernetesFromItsDir(t *testing.T) {
	bin := fakeBinDir(t, "exec sleep 60")
	rel := ReleaseDir(bin, "v1.36.3")

	_, err := CheckBinariesFor(bin, "v1.36.3")
	var mb *MissingBinariesError
	if !errors.As(err, &mb) || len(mb.Missing) != 3 {
		t.Fatalf("err = %v, want the three Kubernetes binaries of v1.36.3 missing", err)
	}
	if !strings.Contains(err.Error(), "make controlplane K8S_VERSION=v1.36.3") || !strings.Contains(err.Error(), "k8s/v1.36.3/kube-apiserver") {
		t.Fatalf("error %q should name the release's binary and its make command", err)
	}

	if err := os.MkdirAll(rel, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{APIServer, ControllerManager, Scheduler} {
		if err := os.WriteFile(filepath.Join(rel, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bins, err := CheckBinariesFor(bin, "v1.36.3")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		APIServer: filepath.Join(rel, APIServer), Scheduler: filepath.Join(rel, Scheduler),
		Etcd: filepath.Join(bin, Etcd), KWOK: filepath.Join(bin, KWOK),
	} {
		if bins[name] != want {
			t.Errorf("%s = %s, want %s", name, bins[name], want)
		}
	}
}

func TestCheckBinariesForDefaultReleaseUsesBinDir(t *testing.T) {
	bin := fakeBinDir(t, "exec sleep 60")
	bins, err := CheckBinariesFor(bin, version.Kubernetes)
	if err != nil {
		t.Fatal(err)
	}
	if got := bins[APIServer]; got != filepath.Join(bin, APIServer) {
		t.Fatalf("kube-apiserver = %s, want the default one in %s", got, bin)
	}
}
