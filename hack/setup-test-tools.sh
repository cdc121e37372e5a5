#!/usr/bin/env bash
# Installs the real clients the unit tests drive (Debian's awscli) when they
# are missing and this is a Debian/Ubuntu host where we are root. Idempotent:
# does nothing when /usr/bin/aws is there. Prints what it did.
#
#   IDLAB_SKIP_APT=1   never run apt-get (the awscli tests then skip unless
#                      IDLAB_REQUIRE_AWSCLI=1).
set -o errexit -o nounset -o pipefail
log() { echo "setup-test-tools: $*"; }

if [[ -x /usr/bin/aws ]]; then
  exit 0
fi
if [[ ${IDLAB_SKIP_APT:-0} == 1 ]]; then
  log "awscli missing and IDLAB_SKIP_APT=1: the awscli tests will skip"
  exit 0
fi
if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
  log "awscli missing; install Debian's awscli (apt-get install awscli) to run the awscli tests"
  exit 0
fi
logf=$(mktemp /tmp/idlab-apt-XXXXXX.log)
log "apt-get install awscli (log: $logf)"
start=$(date +%s)
DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$logf" 2>&1 ||
  { tail -20 "$logf" >&2; echo "setup-test-tools: apt-get update failed" >&2; exit 1; }
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends awscli >>"$logf" 2>&1 ||
  { tail -20 "$logf" >&2; echo "setup-test-tools: apt-get install awscli failed" >&2; exit 1; }
log "awscli $(/usr/bin/aws --version 2>&1 | cut -d' ' -f1) installed in $(( $(date +%s) - start ))s"
