#!/usr/bin/env bash
# make lint: gofmt (any unformatted file fails), go vet with and without the
# e2e tag (hack/vet.sh, as make test runs it) and shellcheck on hack/*.sh
# and .ci/run. Debian's shellcheck is installed when missing (as root on
# Debian/Ubuntu, hack/setup-test-tools.sh); lint fails rather than skip it.
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}

echo "== gofmt -l ."
unformatted=$("$($GO env GOROOT)/bin/gofmt" -l .)
if [[ -n $unformatted ]]; then
  echo "lint: not gofmt-ed (run gofmt -w on them):" >&2
  echo "$unformatted" >&2
  exit 1
fi

bash hack/vet.sh

bash hack/setup-test-tools.sh shellcheck
if ! command -v shellcheck >/dev/null; then
  echo "lint: shellcheck missing: apt-get install shellcheck (or see https://github.com/koalaman/shellcheck)" >&2
  exit 1
fi
echo "== shellcheck $(shellcheck --version | awk '/^version:/ {print $2}') hack/*.sh .ci/run"
shellcheck -x hack/*.sh .ci/run
