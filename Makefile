# churn: build, test and benchmark.
#
#   make              build churn and the pinned control plane into bin/
#   make run          build what is missing, then run PROFILE (default smoke)
#   make test         build everything, then run unit and integration tests
#   make bench        Go benchmarks of the hot paths
#
# The control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok) is built from the separate module in
# deploy/controlplane, pinned there; each binary is rebuilt only when that
# module's go.mod/go.sum or sources change.

GO       ?= go
BIN      := $(CURDIR)/bin
PROFILE  ?= smoke
RUNFLAGS ?=
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X github.com/churn-dev/churn/version.Churn=$(VERSION)

CP_DIR   := deploy/controlplane
CP_DEPS  := $(CP_DIR)/go.mod $(CP_DIR)/go.sum $(wildcard $(CP_DIR)/cmd/*/*.go)
# Stamp the Kubernetes binaries with their release, as the upstream build
# does, so /version and the results report v1.x.y rather than v0.0.0-master.
K8S_VERSION := $(shell awk '$$1=="k8s.io/kubernetes"{print $$2}' $(CP_DIR)/go.mod)
K8S_MINOR   := $(word 2,$(subst ., ,$(K8S_VERSION)))
K8S_LDFLAGS := -X k8s.io/component-base/version.gitVersion=$(K8S_VERSION) \
               -X k8s.io/component-base/version.gitMajor=1 \
               -X k8s.io/component-base/version.gitMinor=$(K8S_MINOR) \
               -X k8s.io/component-base/version.gitTreeState=clean
CP_BINS  := $(BIN)/etcd $(BIN)/kube-apiserver $(BIN)/kube-controller-manager $(BIN)/kube-scheduler $(BIN)/kwok

.PHONY: all churn controlplane run test unit bench vet clean

all: churn controlplane

churn:
	@mkdir -p $(BIN)
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/churn ./cmd/churn

controlplane: $(CP_BINS)

$(BIN)/etcd: $(CP_DEPS)
	@mkdir -p $(BIN)
	@echo "building etcd (pinned in $(CP_DIR)/go.mod)"
	cd $(CP_DIR) && $(GO) build -o $(BIN)/etcd ./cmd/etcd

$(BIN)/kube-apiserver $(BIN)/kube-controller-manager $(BIN)/kube-scheduler: $(CP_DEPS)
	@mkdir -p $(BIN)
	@echo "building $(notdir $@) (k8s.io/kubernetes, pinned in $(CP_DIR)/go.mod; several minutes when cold)"
	cd $(CP_DIR) && $(GO) build -ldflags "$(K8S_LDFLAGS)" -o $@ k8s.io/kubernetes/cmd/$(notdir $@)

$(BIN)/kwok: $(CP_DEPS)
	@mkdir -p $(BIN)
	@echo "building kwok (pinned in $(CP_DIR)/go.mod)"
	cd $(CP_DIR) && $(GO) build -o $(BIN)/kwok sigs.k8s.io/kwok/cmd/kwok

run: all
	$(BIN)/churn run --profile $(PROFILE) $(RUNFLAGS)

vet:
	$(GO) vet ./...
	cd $(CP_DIR) && $(GO) vet ./...

# Integration tests need the real binaries; CHURN_REQUIRE_BINARIES makes a
# missing binary a failure instead of a skip.
test: all
	CHURN_REQUIRE_BINARIES=1 ./hack/test.sh

unit:
	$(GO) test -short ./...

# Go benchmarks (decoding cost per watch event, metrics parsing, ...), then
# the memory of 1,000 idle emulated cilium-agents against an in-process fake
# API server, which fails above 300 MB RSS.
bench:
	@mkdir -p $(BIN)
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./... | tee $(BIN)/bench.txt
	$(GO) run ./agents/cmd/meshmem -agents 1000 -max-rss-mb 300

clean:
	rm -rf $(BIN)
