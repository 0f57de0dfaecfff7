# vipkeeper — build, test and lab targets. `make help` lists them.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X github.com/vipkeeper/vipkeeper/pkg/version.Version=$(VERSION) -X github.com/vipkeeper/vipkeeper/pkg/version.Commit=$(COMMIT)
IMAGE   ?= vipkeeper:$(VERSION)

.PHONY: help build test lint fmt fuzz docs manifests e2e bench demo image clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 12

build: ## build bin/vipkeeper (static)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/vipkeeper ./cmd/vipkeeper

test: lint ## vet, format check and unit tests (network-namespace tests run as root, skip otherwise)
	$(GO) test -race -count=1 ./...

FUZZTIME ?= 60s
fuzz: ## fuzz the whole configuration path (flags + environment + file) for FUZZTIME (60s), and the witness's frame parser (what any host on the link can send) for a third of it
	$(GO) test ./pkg/config -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/witness -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 20s

lint: ## go vet and a gofmt check
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')

docs: ## regenerate the configuration reference in README.md
	$(GO) test ./pkg/config -run TestReadmeReference -update

manifests: ## regenerate manifests/ (`vipkeeper manifest` examples; a test fails when they are stale)
	$(GO) test ./pkg/cli -run TestManifestsUpToDate -update-manifests

e2e: build ## the end-to-end suite on a real kube-apiserver in network namespaces (root)
	cd e2e && $(GO) test -p 1 -count=1 -v -timeout 45m ./...

bench: ## failover benchmark, 5 runs per scenario (VIPKEEPER_BENCH_RUNS=N); writes e2e/.artifacts/bench.{json,md} (root)
	cd e2e && VIPKEEPER_BENCH=1 $(GO) test -count=1 -v -timeout 150m -run '^TestBench$$' .

.PHONY: bench-scale
bench-scale: ## services at scale: 1,000 LoadBalancer Services (VIPKEEPER_SCALE_SERVICES=N); writes e2e/.artifacts/scale.{json,md} (root)
	cd e2e && VIPKEEPER_SCALE=1 $(GO) test -count=1 -v -timeout 60m -run '^TestScale$$' .

demo: ## three-node lab, live view: SIGTERM the leader, crash the next one (root)
	./scripts/demo.sh

IMAGE_ARGS = -f Containerfile --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t $(IMAGE) .
image: ## build the container image with podman or docker, if one is present (docs/image.md)
	@if command -v podman >/dev/null 2>&1; then echo "podman build $(IMAGE_ARGS)"; podman build $(IMAGE_ARGS); \
	elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then echo "docker build $(IMAGE_ARGS)"; docker build $(IMAGE_ARGS); \
	else echo "make image: no podman, and no running docker engine; nothing built" >&2; exit 1; fi

clean: ## remove build output
	rm -rf bin
