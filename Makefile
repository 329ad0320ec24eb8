# hookrun — see README.md. Two commands matter to a newcomer: `make run` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

BIN        := $(CURDIR)/bin
GO         ?= go
HOOKRUN    := $(BIN)/hookrun
# The small in-Pod binary (prepare, step wrapper, results): beside hookrun, where hookrun dev's node agent finds it.
HOOKRUN_STEP := $(BIN)/hookrun-step
CONTROLLER_GEN_VERSION := v0.23.0
TEST_TIMEOUT ?= 30m
# envtest (controller-runtime) finds kube-apiserver and etcd here.
export KUBEBUILDER_ASSETS := $(BIN)

.PHONY: all build tools generate test test-s3 test-tkn test-upstream-examples compat-docs unit lint bench bench-listener bench-executor bench-matrix bench-dashboard run fuzz clean e2e-node soak image

all: build

build: $(HOOKRUN) $(HOOKRUN_STEP)

GO_SOURCES := $(shell find . -name '*.go' -not -path './hack/tools/*' -not -path './.hookrun/*' 2>/dev/null) go.mod go.sum
$(HOOKRUN): $(GO_SOURCES)
	$(GO) build -o $@ ./cmd/hookrun

$(HOOKRUN_STEP): $(GO_SOURCES)
	$(GO) build -o $@ ./cmd/hookrun-step

## tools: the real control plane (kube-apiserver, etcd) and controller-gen, built from source when missing.
tools: $(BIN)/kube-apiserver $(BIN)/etcd $(BIN)/kubectl $(BIN)/controller-gen

$(BIN)/kube-apiserver: hack/tools/go.mod
	@echo ">> building kube-apiserver (k8s.io/kubernetes v1.36.3) — about 5 minutes cold on 2 cores"
	cd hack/tools && $(GO) build -o $@ k8s.io/kubernetes/cmd/kube-apiserver

$(BIN)/kubectl: hack/tools/go.mod
	@echo ">> building kubectl (k8s.io/kubernetes v1.36.3) for the deploy tests"
	cd hack/tools && $(GO) build -o $@ k8s.io/kubernetes/cmd/kubectl

## kubelet, kube-scheduler, kube-controller-manager: the real node of `make e2e-node` (same k8s.io/kubernetes).
$(BIN)/kubelet: hack/tools/go.mod
	@echo ">> building kubelet (k8s.io/kubernetes v1.36.3) for make e2e-node"
	cd hack/tools && $(GO) build -o $@ k8s.io/kubernetes/cmd/kubelet

$(BIN)/kube-scheduler: hack/tools/go.mod
	@echo ">> building kube-scheduler (k8s.io/kubernetes v1.36.3) for make e2e-node"
	cd hack/tools && $(GO) build -o $@ k8s.io/kubernetes/cmd/kube-scheduler

$(BIN)/kube-controller-manager: hack/tools/go.mod
	@echo ">> building kube-controller-manager (k8s.io/kubernetes v1.36.3) for make e2e-node"
	cd hack/tools && $(GO) build -o $@ k8s.io/kubernetes/cmd/kube-controller-manager

## kube-proxy: Services (ClusterIP) on the real node, nftables mode (make e2e-node's deploy test).
$(BIN)/kube-proxy: hack/tools/go.mod
	@echo ">> building kube-proxy (k8s.io/kubernetes v1.36.3) for make e2e-node"
	cd hack/tools && $(GO) build -o $@ k8s.io/kubernetes/cmd/kube-proxy

## tkn: Tekton's CLI (github.com/tektoncd/cli, pinned in hack/tkn) for make test-tkn.
$(BIN)/tkn: hack/tkn/go.mod
	@echo ">> building tkn (github.com/tektoncd/cli v0.43.0) for make test-tkn"
	cd hack/tkn && $(GO) build -o $@ github.com/tektoncd/cli/cmd/tkn

## traefik: the ingress controller of make e2e-node's Ingress case (github.com/traefik/traefik/v3, pinned in
## hack/traefik with Traefik's own replace lines): its Kubernetes Ingress NGINX provider serves deploy/'s
## Ingress (class nginx) as written.
$(BIN)/traefik: hack/traefik/go.mod
	@echo ">> building traefik (github.com/traefik/traefik/v3 v3.6.12) for make e2e-node — 53 minutes measured cold (module download and compile) on a busy shared 2-core box"
	@start=$$(date +%s); cd hack/traefik && $(GO) build -o $@ github.com/traefik/traefik/v3/cmd/traefik; \
	  echo ">> traefik built in $$(( $$(date +%s) - start ))s"

$(BIN)/etcd: hack/tools/go.mod hack/tools/etcd/main.go
	@echo ">> building etcd (go.etcd.io/etcd/server/v3 etcdmain)"
	cd hack/tools && $(GO) build -o $@ ./etcd

$(BIN)/controller-gen:
	GOBIN=$(BIN) $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)

## generate: deepcopy + CRDs (checked in under deploy/crds).
generate: $(BIN)/controller-gen
	$(BIN)/controller-gen object paths=./api/...
	$(BIN)/controller-gen crd:maxDescLen=0 paths=./api/... output:crd:artifacts:config=deploy/crds
	$(GO) run ./hack/crdversions -from v1 -add v1beta1 deploy/crds/tekton.dev_tasks.yaml deploy/crds/tekton.dev_pipelines.yaml \
		deploy/crds/tekton.dev_pipelineruns.yaml deploy/crds/tekton.dev_taskruns.yaml deploy/crds/tekton.dev_stepactions.yaml
	$(GO) run ./hack/crdversions -from v1 -add v1alpha1 deploy/crds/tekton.dev_stepactions.yaml
	$(GO) run ./hack/crdversions -from v1beta1 -add v1alpha1 deploy/crds/triggers.tekton.dev_*.yaml

## weed: SeaweedFS's `weed` (Apache-2.0, pinned in hack/seaweedfs), the real S3 server the S3 log-archive test
## runs against. Its cold build is long (measured: 102 min wall, 14.4 min user CPU, on a shared 2-core machine
## with four other builds), so it is built by test-s3, not by make test (where that test says it is skipped
## without it).
$(BIN)/weed: hack/seaweedfs/go.mod
	@echo ">> building weed (github.com/seaweedfs/seaweedfs) for make test-s3 — long cold"
	cd hack/seaweedfs && $(GO) build -o $@ github.com/seaweedfs/seaweedfs/weed

## test-s3: retention's log archive in an S3 bucket (minio-go) against a real SeaweedFS S3 gateway.
test-s3: $(BIN)/weed
	HOOKRUN_WEED=$(BIN)/weed $(GO) test -count=1 -v -run 'TestArchiveRoundTrip' ./runlogs/s3archive/

## test-tkn: Tekton's own CLI against hookrun dev (logs, --showlog, last run, cancel, EventListener URL).
test-tkn: tools build $(BIN)/tkn
	HOOKRUN_TKN=$(BIN)/tkn KUBEBUILDER_ASSETS=$(BIN) $(GO) test -count=1 -run TestTkn -v -timeout 20m ./test/e2e/

## test-upstream-examples: every example of Tekton's examples/v1 that needs no network, run by the executor and
## a node agent; the outcomes against Tekton's e2e expectation and the known-failures table (not part of make test).
## Installs busybox-static when missing (the node agent's sh and ash; hack/install-busybox.sh).
test-upstream-examples: tools
	@hack/install-busybox.sh
	HOOKRUN_UPSTREAM_EXAMPLES=1 KUBEBUILDER_ASSETS=$(BIN) $(GO) test -count=1 -run TestUpstreamExamples -v -timeout 30m ./executor/

## test: unit + integration tests against a real kube-apiserver + etcd (and headless chromium for dashboard/).
test: tools lint
	@hack/install-chromium.sh
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...
	cd hack/conformance && $(GO) test -mod=mod -count=1 ./...

## compat-docs: regenerate docs/compatibility.md from Tekton's and hookrun's types (hack/conformance), keeping
## the refused/ignored decisions written in it; new Tekton fields come out "undecided" and fail make test.
## -mod=mod: hookrun's own go.mod (replaced in) may have moved since hack/conformance/go.mod was tidied.
compat-docs:
	cd hack/conformance && $(GO) test -mod=mod -count=1 -run TestConformance . -update

unit:
	$(GO) test -count=1 -short ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## bench: every benchmark; bench-listener / bench-executor: the end-to-end load figures.
bench: tools
	$(GO) test -run '^$$' -bench . -benchmem ./...

bench-listener: tools
	$(GO) test -run '^$$' -bench . -benchmem ./listener/... ./interceptors/... ./bindings/... ./templates/...
	HOOKRUN_BENCH=1 $(GO) test -count=1 -run TestListenerLoad -v -timeout 20m ./test/bench/

bench-executor: tools
	HOOKRUN_BENCH=1 $(GO) test -count=1 -run TestExecutorLoad -v -timeout 20m ./test/bench/

## bench-matrix: a 256-combination matrix PipelineRun (all TaskRuns created, RSS, API requests per TaskRun).
bench-matrix: tools
	HOOKRUN_BENCH=1 $(GO) test -count=1 -run TestMatrixLoad -v -timeout 20m ./test/bench/

## bench-dashboard: the runs page over 5,000 PipelineRuns (time to first byte) and the dashboard's RSS.
bench-dashboard: tools
	HOOKRUN_BENCH=1 $(GO) test -count=1 -run TestDashboardFigures -v -timeout 20m ./dashboard/

## soak: 10 minutes at 50 signed events/s against the listener and executor binaries (not part of make test).
soak: tools
	HOOKRUN_SOAK=1 $(GO) test -count=1 -run TestSoak -v -timeout 30m ./test/bench/

fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo ">> $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 30s $$pkg; \
	  done; \
	done

## run: the whole loop on this machine (local control plane + listener + executor + node agent).
run: tools build
	$(HOOKRUN) dev

## e2e-node: the executor's Pods in real containers: kubelet + containerd + runc on this machine (root; see
## test/e2enode). Installs Debian's containerd, runc, CNI plugins, umoci, busybox-static, debootstrap when missing.
E2E_NODE_TOOLS := $(BIN)/kube-apiserver $(BIN)/etcd $(BIN)/kubelet $(BIN)/kube-scheduler $(BIN)/kube-controller-manager \
	$(BIN)/kube-proxy $(BIN)/kubectl $(BIN)/tkn $(BIN)/traefik
E2E_NODE_TIMEOUT ?= 30m
e2e-node:
	@hack/e2e-node/install.sh
	@start=$$(date +%s.%N); $(MAKE) --no-print-directory $(E2E_NODE_TOOLS); \
	  awk -v s=$$start -v e=$$(date +%s.%N) 'BEGIN { printf ">> e2e-node phase tools-build: %.1fs\n", e - s }'
	@rc=0; HOOKRUN_E2E_NODE=1 $(GO) test -count=1 -timeout $(E2E_NODE_TIMEOUT) -v ./test/e2enode/ || rc=$$?; \
	  hack/e2e-node/cleanup.sh; exit $$rc

## image: the container image without a Docker engine (hack/image, go-containerregistry): the static binary
## on a minimal nonroot base, reproducible (same commit → same digest), as an OCI layout and a docker-load
## tarball in dist/; `make image PUSH=registry.example.com/hookrun:TAG` also pushes it.
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
IMAGE_TAG ?= ghcr.io/hookrun/hookrun:$(VERSION)
PUSH ?=
image:
	@mkdir -p dist
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -buildid= -X main.version=$(VERSION)" -o dist/hookrun ./cmd/hookrun
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -buildid=" -o dist/hookrun-step ./cmd/hookrun-step
	rm -rf dist/oci
	$(GO) run ./hack/image --binary dist/hookrun --step-binary dist/hookrun-step --version $(VERSION) --revision $(REVISION) \
		--source-date-epoch $(SOURCE_DATE_EPOCH) --oci-layout dist/oci --tarball dist/hookrun-image.tar --tag $(IMAGE_TAG) \
		$(if $(PUSH),--push $(PUSH),)

clean:
	rm -rf $(HOOKRUN) $(HOOKRUN_STEP)
