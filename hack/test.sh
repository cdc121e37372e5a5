#!/usr/bin/env bash
# Unit tests: vet (with and without the e2e tag) and go test -race. No Docker.
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
bash hack/setup-test-tools.sh
# On a host where the project could install awscli its tests must run, not skip.
if [[ -x /usr/bin/aws ]]; then
  export IDLAB_REQUIRE_AWSCLI=${IDLAB_REQUIRE_AWSCLI:-1}
fi
# vet with -race: its packages are then compiled the way go test -race
# compiles them, so a cold machine builds every dependency once, not twice.
echo "== go vet ./..."
$GO vet -race ./...
# Vet with the e2e tag only the packages that have //go:build e2e files;
# vetting all of ./... again would re-check every package for nothing.
mapfile -t e2e_pkgs < <(grep -rl --include='*.go' '^//go:build e2e' . | xargs -n1 dirname | sort -u)
echo "== go vet -tags e2e ${e2e_pkgs[*]}"
$GO vet -race -tags e2e "${e2e_pkgs[@]}"
echo "== go test -race ./..."
$GO test -race -count=1 -timeout 240s ./...
