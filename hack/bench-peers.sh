#!/usr/bin/env bash
# make bench-peers: hack/benchserve with the peers that take minutes to
# build, MinIO first: idlab serve against gofakes3 and MinIO in the same
# run (S3 PutObject and GetObject), and against MinIO's STS
# (AssumeRoleWithWebIdentity, MinIO's OpenID STS pointed at an issuer
# benchserve hosts), with ratios. MinIO is built once from the Go module
# proxy and cached by version under ${XDG_CACHE_HOME:-~/.cache}/idlab.
# BENCHTIME=1x: benchserve's short mode. MINIO_VERSION picks another
# build; BENCHSERVE_FLAGS adds to benchserve's flags.
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
MINIO_VERSION=${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/idlab/minio-$MINIO_VERSION
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
if [[ ! -x $cache/minio ]]; then
  echo "bench-peers: building MinIO $MINIO_VERSION (minutes, once) into $cache"
  start=$SECONDS
  GOBIN=$bin $GO install "github.com/minio/minio@$MINIO_VERSION"
  mkdir -p "$cache"
  mv "$bin/minio" "$cache/minio"
  echo "bench-peers: MinIO built in $((SECONDS - start)) s"
fi
# As make build builds it: the binary users run.
CGO_ENABLED=0 $GO build -trimpath -ldflags="-s -w" -o "$bin/idlab" ./cmd/idlab
$GO build -o "$bin/benchserve" ./hack/benchserve
flags=()
if [[ ${BENCHTIME:-3s} == 1x ]]; then
  flags+=(-short)
fi
read -r -a extra <<<"${BENCHSERVE_FLAGS:-}"
echo "bench-peers: load before: $(uptime)"
"$bin/benchserve" -idlab "$bin/idlab" -minio "$cache/minio" "${flags[@]}" "${extra[@]}"
echo "bench-peers: load after: $(uptime)"
