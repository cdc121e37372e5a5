#!/usr/bin/env bash
# Installs the real clients and tools the tests drive, from Debian's
# packages, when they are missing and this is a Debian/Ubuntu host where we
# are root. Idempotent; prints what it did.
#
#   setup-test-tools.sh [TOOL...]   (default: awscli)
#
#   - awscli      /usr/bin/aws         harness/cloud's awscli tests (make test)
#   - chromium    /usr/bin/chromium    the conformance page check (make e2e; make test in CI)
#   - openssl     /usr/bin/openssl     emulators/oidc's key ID check (make test in CI)
#   - python3     /usr/bin/python3     scenarios/kit/pyprobe's probe.py tests (make test in CI)
#   - python3-botocore  /usr/lib/python3/dist-packages/botocore/data
#                 botocore's service models: internal/awserrcodes checks every
#                 AWS emulator's error codes against them (make test in CI)
#   - python3-boto3, python3-flask  /usr/lib/python3/dist-packages/{boto3,flask}
#                 scenarios/migration's rehearsal runs its Flask + boto3 app
#                 with Debian's python3 (make test in CI)
#   - shellcheck  /usr/bin/shellcheck  make lint (hack/*.sh, .ci/run); lint fails without it
#
# A test whose tool is missing skips; make test and idlab e2e list every
# skip loudly, and with CI=true a skip fails the run, so in CI a tool that
# cannot be installed is an error here already.
#
#   CI=true            a missing tool that cannot be installed fails this script
#   IDLAB_SKIP_APT=1   never run apt-get
set -o errexit -o nounset -o pipefail
log() { echo "setup-test-tools: $*"; }
ci=${CI:-false}

declare -A bins=([awscli]=/usr/bin/aws [chromium]=/usr/bin/chromium [openssl]=/usr/bin/openssl [python3]=/usr/bin/python3
  [python3-botocore]=/usr/lib/python3/dist-packages/botocore/data [python3-boto3]=/usr/lib/python3/dist-packages/boto3
  [python3-flask]=/usr/lib/python3/dist-packages/flask [shellcheck]=/usr/bin/shellcheck)
missing=()
for tool in "${@:-awscli}"; do
  bin=${bins[$tool]:-}
  if [[ -z $bin ]]; then
    echo "setup-test-tools: unknown tool $tool (${!bins[*]})" >&2
    exit 2
  fi
  [[ -x $bin ]] || missing+=("$tool")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

# cannot says why the missing tools cannot be installed: an error in CI.
cannot() {
  if [[ $ci == true ]]; then
    echo "setup-test-tools: CI=true and ${missing[*]} missing: $*" >&2
    exit 1
  fi
  log "${missing[*]} missing: $*; the tests needing them will skip"
  exit 0
}
if [[ ${IDLAB_SKIP_APT:-0} == 1 ]]; then
  cannot "IDLAB_SKIP_APT=1"
fi
if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
  cannot "install Debian's ${missing[*]} as root (sudo apt-get install ${missing[*]}) to run their tests"
fi
logf=$(mktemp /tmp/idlab-apt-XXXXXX.log)
log "apt-get install ${missing[*]} (log: $logf)"
start=$(date +%s)
DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$logf" 2>&1 ||
  { tail -20 "$logf" >&2; echo "setup-test-tools: apt-get update failed" >&2; exit 1; }
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$logf" 2>&1 ||
  { tail -20 "$logf" >&2; echo "setup-test-tools: apt-get install ${missing[*]} failed" >&2; exit 1; }
for tool in "${missing[@]}"; do
  [[ -x ${bins[$tool]} ]] || { echo "setup-test-tools: $tool installed but ${bins[$tool]} is missing" >&2; exit 1; }
  log "$tool $(dpkg-query -W -f='${Version}' "$tool" 2>/dev/null) installed"
done
log "installed in $(( $(date +%s) - start ))s"
