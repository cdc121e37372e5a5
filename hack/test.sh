#!/usr/bin/env bash
# Unit tests: vet (with and without the e2e tag) and go test -race. No Docker.
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
echo "== go vet ./..."
$GO vet ./...
echo "== go vet -tags e2e ./..."
$GO vet -tags e2e ./...
echo "== go test -race ./..."
$GO test -race -count=1 -timeout 240s ./...
