#!/usr/bin/env bash
# go vet of every package, and again with -tags e2e of the packages that have
# //go:build e2e files, then of the example modules (examples/embed and
# examples/my-app-bug: modules of their own, which ./... does not reach;
# my-app-bug also with -tags e2e). make test and make lint both run it.
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
# vet with -race: its packages are then compiled the way go test -race
# compiles them, so a cold machine builds every dependency once, not twice.
echo "== go vet ./..."
$GO vet -race ./...
# Vet with the e2e tag only the packages that have //go:build e2e files;
# vetting all of ./... again would re-check every package for nothing.
# Packages of the nested example modules are vetted from their own module.
mapfile -t e2e_pkgs < <(grep -rl --include='*.go' '^//go:build e2e' . | grep -v '^\./examples/' | xargs -n1 dirname | sort -u)
echo "== go vet -tags e2e ${e2e_pkgs[*]}"
$GO vet -race -tags e2e "${e2e_pkgs[@]}"
echo "== go vet ./... in examples/embed"
(cd examples/embed && $GO vet -race ./...)
echo "== go vet ./... in examples/my-app-bug, also with -tags e2e"
(cd examples/my-app-bug && $GO vet -race ./... && $GO vet -race -tags e2e ./...)
