#!/usr/bin/env bash
# make e2e: set up the host (Docker), make the node image, bring the lab up,
# run the scenario suites, export logs on failure, and tear the lab down
# unless IDLAB_KEEP=1.
#
# Environment: IDLAB_STATE_DIR (default ./.idlab), IDLAB_PORT (8443),
# IDLAB_KEEP=1 keeps the lab, ARTIFACTS (./artifacts) receives logs.
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export IDLAB_STATE_DIR=${IDLAB_STATE_DIR:-$ROOT/.idlab}
ARTIFACTS=${ARTIFACTS:-$ROOT/artifacts}
GO=${GO:-go}
# No registry is reachable here: build the node image rather than try kindest/node.
export IDLAB_NODE_IMAGE_PULL=${IDLAB_NODE_IMAGE_PULL:-0}
start=$(date +%s)
say() { echo "e2e: [$(( $(date +%s) - start ))s] $*"; }

say "host setup"
bash hack/setup-host.sh
bash hack/setup-test-tools.sh chromium # the conformance page is checked in a browser

say "build idlab and the probe (static)"
mkdir -p bin "$ARTIFACTS"
rm -f "$ARTIFACTS"/e2e.log "$ARTIFACTS"/e2e.json # a failure must not quote an earlier run
CGO_ENABLED=0 $GO build -trimpath -ldflags="-s -w" -o bin/idlab ./cmd/idlab
CGO_ENABLED=0 $GO build -trimpath -ldflags="-s -w" -o bin/probe ./scenarios/internal/probe/cmd/probe

cleanup() {
  rc=$?
  if [[ $rc -ne 0 ]]; then
    say "failed (exit $rc): exporting logs to $ARTIFACTS/logs"
    bin/idlab logs --dir "$ARTIFACTS/logs" || true
  fi
  if [[ ${IDLAB_KEEP:-0} == 1 ]]; then
    say "IDLAB_KEEP=1: leaving the lab up (bin/idlab down to remove it)"
  else
    say "tearing the lab down"
    bin/idlab down || rc=$?
  fi
  if [[ $rc -ne 0 && -s $ARTIFACTS/e2e.log ]]; then
    # CI shows the end of the output: put why it failed there.
    say "failures (from $ARTIFACTS/e2e.log):"
    grep -E -A12 -- '--- FAIL|^panic:|Error Trace:' "$ARTIFACTS/e2e.log" | tail -60 || true
  fi
  say "done (exit $rc)"
  exit $rc
}
trap cleanup EXIT

say "node image"
bin/idlab node-image
say "lab up"
bin/idlab up --probe bin/probe
say "scenarios"
# go test -json keeps every event (e2e.json); idlab report echoes the plain
# output (e2e.log) and writes junit.xml, matrix.md and matrix.html.
$GO test -tags e2e -count=1 -json -timeout 40m ./scenarios/... | tee "$ARTIFACTS/e2e.json" |
  bin/idlab report --out "$ARTIFACTS" | tee "$ARTIFACTS/e2e.log"
say "conformance matrix ($ARTIFACTS/matrix.md, matrix.html, junit.xml):"
cat "$ARTIFACTS/matrix.md"
say "the matrix page as headless Chromium renders it"
IDLAB_REQUIRE_CHROMIUM=$([[ -x /usr/bin/chromium ]] && echo 1 || echo 0) IDLAB_MATRIX_HTML="$ARTIFACTS/matrix.html" \
  $GO test -count=1 -run '^TestMatrixInChromium$' ./harness/report
