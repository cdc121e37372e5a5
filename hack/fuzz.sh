#!/usr/bin/env bash
# Runs every Fuzz* target in the module for FUZZTIME each (default 30s) and
# prints the total wall time. FUZZTIME may be a count, Nx: .ci/run's short
# mode is 100x, since with Go 1.26 a duration can end a clean run in a
# spurious "context deadline exceeded" (go.dev/issue/75804, fixed in Go 1.27)
# and a count cannot.
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/.."
source hack/lib.sh
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
start=$SECONDS
targets=$(test_funcs Fuzz)
if [[ -z $targets ]]; then
  echo "fuzz: no Fuzz targets found" >&2
  exit 1
fi
while read -r pkg target; do
  echo "== $pkg $target ($FUZZTIME)"
  $GO test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg" </dev/null
done <<<"$targets"
echo "fuzz: $(wc -l <<<"$targets") targets, $FUZZTIME each, in $((SECONDS - start))s"
