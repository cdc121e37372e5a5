#!/usr/bin/env bash
# Installs the real clients the tests drive, from Debian's packages, when
# they are missing and this is a Debian/Ubuntu host where we are root:
# awscli for make test (default), chromium for the conformance page in
# make e2e (setup-test-tools.sh chromium). Idempotent; prints what it did.
#
#   IDLAB_SKIP_APT=1   never run apt-get (the tests needing the tool then
#                      skip, unless IDLAB_REQUIRE_AWSCLI / IDLAB_REQUIRE_CHROMIUM).
set -o errexit -o nounset -o pipefail
log() { echo "setup-test-tools: $*"; }

tool=${1:-awscli}
case $tool in
  awscli) bin=/usr/bin/aws ;;
  chromium) bin=/usr/bin/chromium ;;
  *) echo "setup-test-tools: unknown tool $tool (awscli, chromium)" >&2; exit 2 ;;
esac
if [[ -x $bin ]]; then
  exit 0
fi
if [[ ${IDLAB_SKIP_APT:-0} == 1 ]]; then
  log "$tool missing and IDLAB_SKIP_APT=1: its tests will skip"
  exit 0
fi
if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
  log "$tool missing; install Debian's $tool (apt-get install $tool) to run its tests"
  exit 0
fi
logf=$(mktemp /tmp/idlab-apt-XXXXXX.log)
log "apt-get install $tool (log: $logf)"
start=$(date +%s)
DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$logf" 2>&1 ||
  { tail -20 "$logf" >&2; echo "setup-test-tools: apt-get update failed" >&2; exit 1; }
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$tool" >>"$logf" 2>&1 ||
  { tail -20 "$logf" >&2; echo "setup-test-tools: apt-get install $tool failed" >&2; exit 1; }
log "$tool $(dpkg-query -W -f='${Version}' "$tool" 2>/dev/null) installed in $(( $(date +%s) - start ))s"
