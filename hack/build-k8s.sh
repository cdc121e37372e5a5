#!/usr/bin/env bash
# build-k8s.sh builds, from the Go module proxy only, every binary the offline
# kind node image needs, into a cache dir keyed by the versions and the build
# inputs, and prints that dir on stdout (progress goes to stderr):
#
#   kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet
#   kubeadm kubectl   from k8s.io/kubernetes        (build/k8s/go.mod)
#   crictl pause      our CRI client and pause     (build/k8s/cmd)
#   etcd              from go.etcd.io/etcd/server  (build/etcd/go.mod)
#   coredns           from github.com/coredns      (build/coredns: the plugins a
#                     lab Corefile uses, see its main.go)
#
# A second run with the same inputs returns at once. Versions are the ones
# pinned in the build/*/go.mod files; bump them with `go get -tool` there.
#
# Environment:
#   IDLAB_CACHE_DIR    cache root. Defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/idlab.
#   IDLAB_K8S_VERSION  if set, fail unless build/k8s pins this Kubernetes version.
#   IDLAB_BUILD_CHECK_ONLY=1  only report: print the dir and exit 0 when it is
#                      complete, exit 3 when a build is needed.
#   GOFLAGS, GOPROXY are honoured by go as usual.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build
CACHE=${IDLAB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/idlab}

log() { echo "build-k8s: $*" >&2; }
die() { echo "build-k8s: ERROR: $*" >&2; exit 1; }

modver() { # modver GOMOD MODULE -> version required in GOMOD
  awk -v m="$2" '$1 == "require" {$1 = ""; $0 = $0} $1 == m && $2 ~ /^v/ {print $2; exit}' "$1"
}

K8S_VERSION=$(modver "$BUILD/k8s/go.mod" k8s.io/kubernetes)
ETCD_VERSION=$(modver "$BUILD/etcd/go.mod" go.etcd.io/etcd/server/v3)
COREDNS_VERSION=$(modver "$BUILD/coredns/go.mod" github.com/coredns/coredns)
[[ -n $K8S_VERSION && -n $ETCD_VERSION && -n $COREDNS_VERSION ]] ||
  die "could not read versions from $BUILD/{k8s,etcd,coredns}/go.mod"
if [[ -n ${IDLAB_K8S_VERSION:-} && $IDLAB_K8S_VERSION != "$K8S_VERSION" ]]; then
  die "Kubernetes $IDLAB_K8S_VERSION asked for, but build/k8s/go.mod pins $K8S_VERSION (see build/README.md)"
fi

# The key covers versions, the build inputs (go.mod/go.sum, our sources and
# this script) and the Go toolchain, so any change gives a fresh dir.
inputs_hash=$(
  cd "$BUILD" && {
    find . -type f \( -name '*.go' ! -name '*_test.go' -o -name 'go.mod' -o -name 'go.sum' \) | LC_ALL=C sort | xargs sha256sum
    sha256sum <"$ROOT/hack/build-k8s.sh"
    go env GOVERSION
  } |
    sha256sum | cut -c1-12
)
OUT=$CACHE/bin/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-coredns-$COREDNS_VERSION-$inputs_hash
if [[ -f $OUT/.complete ]]; then
  log "cached: $OUT"
  echo "$OUT"
  exit 0
fi
if [[ ${IDLAB_BUILD_CHECK_ONLY:-0} == 1 ]]; then
  log "not built yet: $OUT"
  exit 3
fi
mkdir -p "$OUT"
LOG=$OUT/build.log
: >"$LOG"

export CGO_ENABLED=0 GOOS=linux GOARCH=${GOARCH:-$(go env GOARCH)}
step() { # step NAME DIR go-build-args...
  local name=$1 dir=$2 start=$SECONDS; shift 2
  log "building $name ..."
  if ! (cd "$dir" && go build -trimpath "$@") >>"$LOG" 2>&1; then
    tail -30 "$LOG" >&2
    die "building $name failed: (cd $dir && go build -trimpath $*); log: $LOG"
  fi
  log "building $name ... $((SECONDS - start))s"
}

# Version variables as k8s hack/lib/version.sh sets them, so `kubectl version`
# reports the release and kubeadm accepts it.
k8s_ldflags() {
  local major minor build_date key val flags=(-s -w)
  IFS=. read -r major minor _ <<<"${K8S_VERSION#v}"
  build_date=$(cd "$BUILD/k8s" && go list -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes)
  for kv in "gitVersion=$K8S_VERSION" "gitMajor=$major" "gitMinor=$minor" "gitTreeState=clean" \
    "gitCommit=0000000000000000000000000000000000000000" "buildDate=${build_date:-1970-01-01T00:00:00Z}"; do
    key=${kv%%=*}; val=${kv#*=}
    flags+=("-X" "k8s.io/client-go/pkg/version.$key=$val" "-X" "k8s.io/component-base/version.$key=$val")
  done
  echo "${flags[*]}"
}

total=$SECONDS
K=k8s.io/kubernetes/cmd
step "kubernetes $K8S_VERSION" "$BUILD/k8s" -ldflags "$(k8s_ldflags)" -o "$OUT/" \
  $K/kube-apiserver $K/kube-controller-manager $K/kube-scheduler $K/kube-proxy $K/kubelet $K/kubeadm $K/kubectl
step "crictl, pause" "$BUILD/k8s" -ldflags "-s -w" -o "$OUT/" ./cmd/crictl ./cmd/pause
step "etcd $ETCD_VERSION" "$BUILD/etcd" -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=idlab" -o "$OUT/etcd" go.etcd.io/etcd/server/v3
step "coredns $COREDNS_VERSION" "$BUILD/coredns" -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=idlab" -o "$OUT/coredns" .

# Capture first: `kubectl ... | grep -q` under pipefail fails at random when
# grep exits before kubectl's last line and kubectl dies of SIGPIPE.
kubectl_version=$("$OUT/kubectl" version --client 2>&1) || die "kubectl version --client failed: $kubectl_version"
[[ $kubectl_version == *"$K8S_VERSION"* ]] || die "kubectl does not report $K8S_VERSION (got: $kubectl_version); ldflags not applied?"
cat >"$OUT/versions.env" <<EOF
K8S_VERSION=$K8S_VERSION
ETCD_VERSION=$ETCD_VERSION
COREDNS_VERSION=$COREDNS_VERSION
EOF
touch "$OUT/.complete"
# Drop earlier builds nobody touched for an hour.
find "$CACHE/bin" -mindepth 1 -maxdepth 1 -type d -name 'k8s-*' ! -path "$OUT" -mmin +60 -exec rm -rf {} + 2>/dev/null || true
log "done in $((SECONDS - total))s: $OUT"
echo "$OUT"
