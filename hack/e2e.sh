#!/usr/bin/env bash
# make e2e: set up the host (Docker), make the node image, bring the lab up,
# run the scenario suites, export logs on failure, and tear the lab down
# unless IDLAB_KEEP=1.
#
# Environment: IDLAB_STATE_DIR (default ./.idlab), IDLAB_PORT (8443),
# IDLAB_CLUSTERS (eks,gke,aks: every suite needs its cluster),
# IDLAB_CNI (the pod network: bridge, ptp or kindnet; default kindnet on
# kindest/node, else bridge), IDLAB_KEEP=1 keeps the lab, ARTIFACTS
# (./artifacts) receives logs.
#
# The node image is kindest/node of the pinned Kubernetes version when
# Docker has it or can pull it (no root needed), else one built offline
# once (debootstrap and chroot: root, or sudo -E make e2e; cached after);
# IDLAB_NODE_IMAGE_PULL=0 skips the pull (CI, where no registry is
# reachable, sets it). The Python client image and the third-party client
# images (rclone, azure-cli) are built the same way once, beside it.
# The run must match scenarios/manifest.yaml (idlab e2e --manifest); CI=true
# makes a skipped test a failure.
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export IDLAB_STATE_DIR=${IDLAB_STATE_DIR:-$ROOT/.idlab}
ARTIFACTS=${ARTIFACTS:-$ROOT/artifacts}
GO=${GO:-go}
start=$(date +%s)
say() { echo "e2e: [$(( $(date +%s) - start ))s] $*"; }

say "host setup"
bash hack/setup-host.sh
bash hack/setup-test-tools.sh chromium # the conformance page is checked in a browser (CI=true: must install)

say "build idlab, the probe and gtoken's token writer (static)"
mkdir -p bin "$ARTIFACTS"
rm -f "$ARTIFACTS"/{e2e.log,e2e.json,junit.xml,matrix.md,matrix.html} # a failure must not quote an earlier run
rev=$(git describe --always --dirty 2>/dev/null || true) # for idlab version; empty outside a checkout
CGO_ENABLED=0 $GO build -trimpath -ldflags="-s -w -X main.revision=$rev" -o bin/idlab ./cmd/idlab
CGO_ENABLED=0 $GO build -trimpath -ldflags="-s -w" -o bin/probe ./scenarios/kit/probe/cmd/probe
CGO_ENABLED=0 $GO build -trimpath -ldflags="-s -w" -o bin/gtoken ./cmd/gtoken # the gtoken image's (beside bin/idlab)

say "lab up, scenario suites in parallel, report, lab down (bin/idlab e2e)"
# idlab e2e exports the lab's logs to $ARTIFACTS/logs on failure, tears the
# lab down unless IDLAB_KEEP=1, and ends a failed run with the failing tests'
# output after the matrix, so CI's tail says why.
rc=0
bin/idlab e2e --probe bin/probe --pyclient --toolclient --out "$ARTIFACTS" || rc=$?
if [[ ! -s $ARTIFACTS/matrix.md ]]; then
  say "no matrix was written (exit $rc)"
  exit $(( rc == 0 ? 1 : rc ))
fi
say "the matrix page as headless Chromium renders it"
# With IDLAB_MATRIX_HTML set the check cannot skip: no chromium fails it.
IDLAB_MATRIX_HTML="$ARTIFACTS/matrix.html" $GO test -count=1 -run '^TestMatrixInChromium$' ./harness/report
say "done (exit $rc)"
exit $rc
