#!/usr/bin/env bash
# Unit tests: vet (with and without the e2e tag) and go test -race, of the
# module and of examples/embed and examples/my-app-bug (modules of their
# own that use idlab as a user's module does). No Docker.
# The tests' summary (hack/testsummary) lists every skipped test loudly;
# with CI=true a skip is a failure, and every tool a test needs is
# installed first (hack/setup-test-tools.sh).
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
if [[ ${CI:-} == true ]]; then
  bash hack/setup-test-tools.sh awscli chromium openssl python3 python3-botocore python3-boto3 python3-flask
else
  bash hack/setup-test-tools.sh awscli
fi
bash hack/vet.sh
echo "== go test -race ./... and examples/embed, examples/my-app-bug"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
$GO build -o "$bin/testsummary" ./hack/testsummary
# Both modules' events go to one summary; a failure of the first does not
# keep the second from running, and either fails the pipeline.
# -timeout bounds a hung package, not the run: harness/cloud, the longest
# (three tests that run awscli some 150 times), took 104 s on a quiet
# 2-core machine, 162 s beside a benchmark, and hit a 240 s timeout beside
# a MinIO build.
{
  rc=0
  $GO test -race -count=1 -timeout 360s -json ./... || rc=$?
  (cd examples/embed && $GO test -race -count=1 -timeout 120s -json ./...) || rc=$?
  (cd examples/my-app-bug && $GO test -race -count=1 -timeout 120s -json ./...) || rc=$?
  exit "$rc"
} | "$bin/testsummary"
