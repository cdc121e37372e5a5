#!/usr/bin/env bash
# nodeimage-smoke.sh proves the node image end to end: make sure the image
# exists (idlab node-image), create a one-node kind cluster from it, wait for
# every kube-system pod to be Ready, delete the cluster. Prints timings.
#
# Environment:
#   IDLAB_BIN        idlab binary to use. Defaults to `go run ./cmd/idlab`.
#   IDLAB_CACHE_DIR  cache root (kind CLI goes in $IDLAB_CACHE_DIR/bin/kind-<v>).
#   KIND_VERSION     kind CLI version. Defaults to v0.33.0.
#   CLUSTER          cluster name. Defaults to idlab-smoke.
#   ARTIFACTS        where to export kind logs on failure. Defaults to ./_artifacts.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${IDLAB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/idlab}
KIND_VERSION=${KIND_VERSION:-v0.33.0}
CLUSTER=${CLUSTER:-idlab-smoke}
ARTIFACTS=${ARTIFACTS:-$ROOT/_artifacts}
KIND=$CACHE/bin/kind-$KIND_VERSION/kind

log() { echo "smoke: $*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

cleanup() {
  local rc=$?
  if ((rc != 0)) && [[ -x $KIND ]]; then
    log "failed (exit $rc); exporting logs to $ARTIFACTS"
    "$KIND" export logs "$ARTIFACTS" --name "$CLUSTER" >/dev/null 2>&1 || true
  fi
  if [[ -x $KIND ]]; then
    "$KIND" delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
  exit "$rc"
}

main() {
  WORK=$(mktemp -d)
  trap cleanup EXIT
  cd "$ROOT"
  "$ROOT/hack/setup-host.sh"

  if [[ ! -x $KIND ]]; then
    log "building kind $KIND_VERSION"
    GOBIN=$(dirname "$KIND") CGO_ENABLED=0 go install "sigs.k8s.io/kind@$KIND_VERSION"
  fi

  local t image
  t=$(now)
  if [[ -n ${IDLAB_BIN:-} ]]; then
    image=$("$IDLAB_BIN" node-image)
  else
    image=$(go run ./cmd/idlab node-image)
  fi
  log "node image $image ($(since "$t")s)"

  cat >"$WORK/kind.yaml" <<EOF
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  disableDefaultCNI: $([[ $image == kindest/* ]] && echo false || echo true)
nodes:
- role: control-plane
EOF
  "$KIND" delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
  t=$(now)
  "$KIND" create cluster --name "$CLUSTER" --image "$image" --config "$WORK/kind.yaml" \
    --kubeconfig "$WORK/kubeconfig" --wait 0s
  log "cluster created in $(since "$t")s"

  local t2 kc=(kubectl --kubeconfig "$WORK/kubeconfig")
  t2=$(now)
  command -v kubectl >/dev/null || kc=(docker exec "$CLUSTER-control-plane" kubectl --kubeconfig /etc/kubernetes/admin.conf)
  local deadline=$((SECONDS + 300))
  until "${kc[@]}" wait --for=condition=Ready node --all --timeout=5s >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { "${kc[@]}" get nodes -o wide >&2; exit 1; }
    sleep 1
  done
  log "node Ready after $(since "$t2")s"
  # Pods appear over time (coredns after the controller-manager starts).
  until [[ $("${kc[@]}" -n kube-system get pods --no-headers 2>/dev/null | wc -l) -ge 7 ]] &&
    "${kc[@]}" -n kube-system wait --for=condition=Ready pod --all --timeout=5s >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { "${kc[@]}" get pods -A -o wide >&2; exit 1; }
    sleep 1
  done
  log "all kube-system pods Ready $(since "$t2")s after create ($(since "$t")s total)"
  "${kc[@]}" get pods -A -o wide >&2

  t=$(now)
  "$KIND" delete cluster --name "$CLUSTER"
  log "cluster deleted in $(since "$t")s"
}

main "$@"
