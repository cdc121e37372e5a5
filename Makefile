# idlab: local multi-cloud identity lab. `make help` lists the targets.
SHELL := /usr/bin/env bash
GO ?= go
# idlab version names the commit; empty outside a git checkout (no error:
# this machine's go env turns VCS stamping off, so it is passed by hand).
IDLAB_REV := $(shell git describe --always --dirty 2>/dev/null)

.PHONY: help test e2e e2e-quick bench bench-peers build image fuzz lint up down

help: ## list targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/idlab, the SDK probe bin/probe and gtoken's token writer bin/gtoken (static, for FROM scratch images)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w -X main.revision=$(IDLAB_REV)" -o bin/idlab ./cmd/idlab
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o bin/probe ./scenarios/kit/probe/cmd/probe
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o bin/gtoken ./cmd/gtoken

image: build ## the emulator image idlab/emulator:latest (testcontainers/idlab/Dockerfile: FROM scratch, bin/idlab); pulls nothing
	docker build --file testcontainers/idlab/Dockerfile --tag idlab/emulator:latest bin

test: ## vet (also with -tags e2e) and unit tests with -race; no Docker needed
	hack/test.sh

e2e: ## bring up the lab on kind and run the scenario suites (installs Docker if needed)
	hack/e2e.sh

e2e-quick: ## make e2e without the slow tier (rows that wait minutes for the kubelet or a clock; the manifest marks them)
	IDLAB_TIER=quick hack/e2e.sh

bench: ## benchmarks: in-process, then idlab serve (a process, a disk data dir) vs gofakes3 with ratios and the STS sessions curve; BENCHTIME=1x: short
	hack/bench.sh

bench-peers: ## idlab serve vs MinIO (S3 and STS AssumeRoleWithWebIdentity) and gofakes3, ratios; builds MinIO once (minutes), cached by version; BENCHTIME=1x: short
	hack/bench-peers.sh

fuzz: ## run every fuzz target for FUZZTIME each (default 30s; Nx: N inputs)
	hack/fuzz.sh

lint: ## gofmt, go vet (also with -tags e2e), shellcheck on hack/*.sh and .ci/run
	hack/lint.sh

up: build ## bring up the lab clusters and emulators; it stays up until make down
	bin/idlab up --probe bin/probe --pyclient --toolclient

down: build ## tear the lab down
	bin/idlab down
