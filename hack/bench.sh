#!/usr/bin/env bash
# Benchmarks, printed as go test -bench output (feed to benchstat to compare
# runs). BENCHTIME defaults to 3s; BENCHTIME=1x runs each benchmark once
# (.ci/run's short mode). BENCH selects benchmarks by regexp, COUNT repeats.
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
