# churn: build, test and benchmark.
#
#   make              build churn and the pinned control plane into bin/
#   make kwok         only kwok, pinned and patched (bin/kwok)
#   make run          build what is missing, then run PROFILE (default smoke)
#   make test         build everything, then run unit and integration tests
#   make bench        Go benchmarks of the hot paths
#   make fuzz         every Go fuzz target in turn, FUZZTIME each (default
#                     45s: about 10 minutes), FUZZ_PARALLEL workers (1)
#   make bench-ramp   setup pods/s and warm-start time of PROFILE, medians
#   make istiod       the real istiod (pilot-discovery) for --istiod real
#   make cilium       the real cilium-operator-generic and a datapath-less
#                     cilium-agent for --cilium real
#   make controlplane K8S_VERSION=v1.36.3
#                     also build another pinned Kubernetes release into
#                     bin/k8s/<version>/ (for churn run --kubernetes-version)
#   make upgrade      the release upgrades are rehearsed from (UPGRADE_FROM,
#                     v1.36.3) and HAProxy, for --apiservers and --upgrade
#
# The control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok) is built from the separate module in
# deploy/controlplane, pinned there; each binary is rebuilt only when that
# module's go.mod/go.sum or sources change (kwok also when its patches in
# deploy/controlplane/patches/kwok or hack/build-kwok.sh change).

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
k8s_ldflags = -X k8s.io/component-base/version.gitVersion=$(1) \
              -X k8s.io/component-base/version.gitMajor=1 \
              -X k8s.io/component-base/version.gitMinor=$(word 2,$(subst ., ,$(1))) \
              -X k8s.io/component-base/version.gitTreeState=clean
DEFAULT_K8S := $(shell awk '$$1=="k8s.io/kubernetes"{print $$2}' $(CP_DIR)/go.mod)
K8S_BINS    := kube-apiserver kube-controller-manager kube-scheduler
CP_BINS  := $(BIN)/etcd $(addprefix $(BIN)/,$(K8S_BINS)) $(BIN)/kwok

# K8S_VERSION=vX.Y.Z builds a further release pinned by
# hack/add-k8s-release.sh in deploy/controlplane/releases/<version>.
K8S_VERSION ?= $(DEFAULT_K8S)
ifneq ($(K8S_VERSION),$(DEFAULT_K8S))
REL_DIR  := $(CP_DIR)/releases/$(K8S_VERSION)
ifeq ($(wildcard $(REL_DIR)/go.mod),)
$(error Kubernetes $(K8S_VERSION) is not pinned here: no $(REL_DIR)/go.mod; pin it with hack/add-k8s-release.sh $(K8S_VERSION) (pinned: $(DEFAULT_K8S) $(notdir $(wildcard $(CP_DIR)/releases/v*))))
endif
REL_BINS := $(addprefix $(BIN)/k8s/$(K8S_VERSION)/,$(K8S_BINS))
CP_BINS  += $(REL_BINS)
$(REL_BINS): $(REL_DIR)/go.mod $(REL_DIR)/go.sum
	@mkdir -p $(dir $@)
	@echo "building $(notdir $@) $(K8S_VERSION) (pinned in $(REL_DIR)/go.mod; several minutes when cold)"
	cd $(REL_DIR) && $(GO) build -ldflags "$(call k8s_ldflags,$(K8S_VERSION))" -o $@ k8s.io/kubernetes/cmd/$(notdir $@)
endif

.PHONY: all churn controlplane kwok istiod cilium run test unit bench bench-ramp fuzz image vet clean upgrade haproxy

# The release a rolling upgrade starts from in the tests and the README's
# examples; the upgrade goes to the default release.
UPGRADE_FROM ?= v1.36.3

upgrade: haproxy
	$(MAKE) controlplane K8S_VERSION=$(UPGRADE_FROM)

# Several API servers run behind HAProxy (Debian's package, as in kubeadm's
# HA guide); one API server needs none.
haproxy:
	@command -v haproxy >/dev/null 2>&1 || { echo "installing haproxy (Debian package) for --apiservers"; \
		apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null; }

all: churn controlplane

churn:
	@mkdir -p $(BIN)
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/churn ./cmd/churn

controlplane: $(CP_BINS)

$(BIN)/etcd: $(CP_DEPS)
	@mkdir -p $(BIN)
	@echo "building etcd (pinned in $(CP_DIR)/go.mod)"
	cd $(CP_DIR) && $(GO) build -o $(BIN)/etcd ./cmd/etcd

$(addprefix $(BIN)/,$(K8S_BINS)): $(CP_DEPS)
	@mkdir -p $(BIN)
	@echo "building $(notdir $@) $(DEFAULT_K8S) (pinned in $(CP_DIR)/go.mod; several minutes when cold)"
	cd $(CP_DIR) && $(GO) build -ldflags "$(call k8s_ldflags,$(DEFAULT_K8S))" -o $@ k8s.io/kubernetes/cmd/$(notdir $@)

# kwok is built with the patches in $(CP_DIR)/patches/kwok (e.g. upstream's
# informers restart every watch at resourceVersion 0; see the README there):
# hack/build-kwok.sh applies them to a copy of the pinned module under
# bin/.build and stamps the binary v0.8.0-churn.N.
KWOK_VERSION := $(shell awk '$$1=="sigs.k8s.io/kwok"{print $$2}' $(CP_DIR)/go.mod)
KWOK_PATCH_DIR := $(CP_DIR)/patches/kwok
KWOK_DEPS := $(KWOK_PATCH_DIR) $(wildcard $(KWOK_PATCH_DIR)/*.patch) hack/build-kwok.sh
kwok: $(BIN)/kwok

$(BIN)/kwok: $(CP_DEPS) $(KWOK_DEPS)
	@mkdir -p $(BIN)
	@echo "building kwok $(KWOK_VERSION) (pinned in $(CP_DIR)/go.mod) with the patches in $(KWOK_PATCH_DIR)"
	GO=$(GO) KWOK_VERSION=$(KWOK_VERSION) ./hack/build-kwok.sh $@ $(BIN)/.build

# The real istiod (churn run --istiod real), pinned in deploy/istiod/go.mod.
# Not part of `all`: only --istiod real and its fidelity test need it.
ISTIOD_DIR := deploy/istiod
istiod: $(BIN)/pilot-discovery

$(BIN)/pilot-discovery: $(ISTIOD_DIR)/go.mod $(ISTIOD_DIR)/go.sum
	@mkdir -p $(BIN)
	@echo "building pilot-discovery (the real istiod, pinned in $(ISTIOD_DIR)/go.mod; 5-40 minutes when cold)"
	cd $(ISTIOD_DIR) && $(GO) build -o $@ istio.io/istio/pilot/cmd/pilot-discovery

# The real Cilium control plane (churn run --cilium real), pinned in
# deploy/cilium/go.mod: cilium-operator-generic as Cilium builds it (IPAM
# provider "operator" only), and cilium-agent assembled in
# deploy/cilium/agent with Cilium's fake datapath. Not part of `all`.
CILIUM_DIR     := deploy/cilium
CILIUM_VERSION := $(shell awk '$$1=="github.com/cilium/cilium"{print $$2}' $(CILIUM_DIR)/go.mod)
CILIUM_LDFLAGS := -X 'github.com/cilium/cilium/pkg/version.ciliumVersion=$(patsubst v%,%,$(CILIUM_VERSION)) churn'
cilium: $(BIN)/cilium-operator-generic $(BIN)/cilium-agent

$(BIN)/cilium-operator-generic: $(CILIUM_DIR)/go.mod $(CILIUM_DIR)/go.sum
	@mkdir -p $(BIN)
	@echo "building cilium-operator-generic $(CILIUM_VERSION) (pinned in $(CILIUM_DIR)/go.mod; 3-10 minutes when cold)"
	cd $(CILIUM_DIR) && $(GO) build -tags ipam_provider_operator -ldflags "$(CILIUM_LDFLAGS)" -o $@ github.com/cilium/cilium/operator

$(BIN)/cilium-agent: $(CILIUM_DIR)/go.mod $(CILIUM_DIR)/go.sum $(wildcard $(CILIUM_DIR)/agent/*.go)
	@mkdir -p $(BIN)
	@echo "building cilium-agent $(CILIUM_VERSION) without datapath ($(CILIUM_DIR)/agent; 3-10 minutes when cold)"
	cd $(CILIUM_DIR) && $(GO) build -ldflags "$(CILIUM_LDFLAGS)" -o $@ ./agent

run: all
	$(BIN)/churn run --profile $(PROFILE) $(RUNFLAGS)

vet:
	$(GO) vet ./...
	cd $(CP_DIR) && $(GO) vet ./...

# Integration tests need the real binaries; CHURN_REQUIRE_BINARIES makes a
# missing binary a failure instead of a skip.
# TEST_FUZZTIME=5s adds a brief run of every fuzz target after the tests.
test: all upgrade
	CHURN_REQUIRE_BINARIES=1 TEST_FUZZTIME=$(TEST_FUZZTIME) ./hack/test.sh

unit:
	$(GO) test -short ./...

# Go benchmarks (decoding and receiving cost per watch event, metrics
# parsing, ...), then
# the memory of 1,000 idle emulated cilium-agents against an in-process fake
# API server, which fails above 300 MB RSS.
bench:
	@mkdir -p $(BIN)
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./... | tee $(BIN)/bench.txt
	$(GO) run ./agents/cmd/meshmem -agents 1000 -max-rss-mb 300

# Native Go fuzzing of the parsers of server bytes and user input (watch
# streams, skimmers, list pages, gzip, /metrics, profiles, flags), one
# target after another; see hack/fuzz.sh. Plain `go test` already runs
# every checked-in seed and crasher as a regression test.
FUZZTIME      ?= 45s
FUZZ_PARALLEL ?= 1
fuzz:
	FUZZTIME=$(FUZZTIME) FUZZ_PARALLEL=$(FUZZ_PARALLEL) ./hack/fuzz.sh

# PROFILE's setup RUNS times (pods/s over the ramp, setup time), then RUNS
# warm starts from a snapshot of it; prints the medians.
RUNS ?= 3
bench-ramp: all
	CHURN=$(BIN)/churn BIN_DIR=$(BIN) ./hack/bench-ramp.sh $(PROFILE) $(RUNS)

# The in-cluster image (deploy/job, deploy/agents): a static churn on
# distroless/nonroot. Needs docker and a registry; nothing else uses it.
IMAGE ?= ghcr.io/churn-dev/churn:$(VERSION)
image:
	docker build --build-arg VERSION=$(VERSION) -t $(IMAGE) .

clean:
	rm -rf $(BIN)
