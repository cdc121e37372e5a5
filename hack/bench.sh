#!/usr/bin/env bash
# Benchmarks. First the in-process ones, as go test -bench output (feed to
# benchstat to compare runs); then hack/benchserve, which measures
# `idlab serve` as users run it (a process, a data dir on disk) against
# gofakes3 in a process of its own and prints ratios, and the STS
# sessions-growth curve.
# BENCHTIME defaults to 3s; BENCHTIME=1x runs each in-process benchmark
# once and benchserve in its short mode (.ci/run's short mode, ~1 min).
# BENCH selects in-process benchmarks by regexp, COUNT repeats them;
# BENCHSERVE=0 skips benchserve, BENCHSERVE_FLAGS adds to its flags
# (-curve 1000,10000,100000).
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/.."
source hack/lib.sh
GO=${GO:-go}
# Only the packages that have benchmarks: -bench over ./... would build
# every test binary of the module.
benchmarks=$(test_funcs Benchmark)
if [[ -z $benchmarks ]]; then
  echo "bench: no Benchmark functions found" >&2
  exit 1
fi
mapfile -t pkgs < <(cut -d' ' -f1 <<<"$benchmarks" | sort -u)
$GO test -run '^$' -bench "${BENCH:-.}" -benchtime "${BENCHTIME:-3s}" -count "${COUNT:-1}" "${pkgs[@]}"

if [[ ${BENCHSERVE:-1} == 0 ]]; then
  exit 0
fi
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
# As make build builds it: the binary users run.
CGO_ENABLED=0 $GO build -trimpath -ldflags="-s -w" -o "$bin/idlab" ./cmd/idlab
$GO build -o "$bin/benchserve" ./hack/benchserve
flags=()
if [[ ${BENCHTIME:-3s} == 1x ]]; then
  flags+=(-short)
fi
read -r -a extra <<<"${BENCHSERVE_FLAGS:-}"
echo
echo "benchserve: load before: $(uptime)"
"$bin/benchserve" -idlab "$bin/idlab" "${flags[@]}" "${extra[@]}"
echo "benchserve: load after: $(uptime)"
