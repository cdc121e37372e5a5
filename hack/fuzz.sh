#!/usr/bin/env bash
# Runs every Fuzz* target in the module for FUZZTIME each (default 30s) and
# prints the total wall time. FUZZTIME may be a count, Nx: .ci/run's short
# mode is 100x, since with Go 1.26 a duration can end a clean run in a
# spurious "context deadline exceeded" (go.dev/issue/75804, fixed in Go 1.27)
# and a count cannot.
# Each package's fuzz-instrumented test binary is built once (go test -c
# -fuzz) and run once per target, as go test -fuzz runs it: in the
# package's directory (its testdata/fuzz corpus) with the same cache of
# interesting inputs under GOCACHE. go test -fuzz per target builds and
# links the binary again for every target (84 targets took 847 s that way
# in a fresh-clone run on a 2-core machine; internal/sigv4's 5 targets 32 s
# against 21 s built once, side by side).
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
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
cache=$($GO env GOCACHE)/fuzz
built=
while read -r pkg target; do
  test=$bin/$(tr / _ <<<"$pkg").test
  if [[ $pkg != "$built" ]]; then
    echo "== $pkg: building its fuzz test binary"
    $GO test -c -fuzz . -o "$test" "$pkg"
    dir=$($GO list -f '{{.Dir}}' "$pkg")
    built=$pkg
  fi
  echo "== $pkg $target ($FUZZTIME)"
  (cd "$dir" &&
    "$test" -test.run '^$' -test.fuzz "^${target}\$" -test.fuzztime "$FUZZTIME" \
      -test.fuzzcachedir "$cache/$pkg" -test.paniconexit0 -test.timeout 10m </dev/null)
done <<<"$targets"
echo "fuzz: $(wc -l <<<"$targets") targets, $FUZZTIME each, in $((SECONDS - start))s"
