#!/usr/bin/env bash
# Benchmarks, printed as go test -bench output (feed to benchstat to compare runs).
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
$GO test -run '^$' -bench "${BENCH:-.}" -benchtime "${BENCHTIME:-3s}" -count "${COUNT:-1}" ./...
