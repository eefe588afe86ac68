# Shared helpers for the hack/ scripts. Sourced, never run.
# Every step runs through `step` so that a failure names what failed and
# shows the tail of its log instead of a wall of unrelated output.
set -euo pipefail

HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT_DIR="$(cd "$HACK_DIR/.." && pwd)"
CACHE_DIR="${SENSORPIPE_CACHE:-$ROOT_DIR/.cache}"
# shellcheck source=versions.env
source "$HACK_DIR/versions.env"
mkdir -p "$CACHE_DIR/logs"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

die() { log "ERROR: $*"; exit 1; }

# step NAME CMD...: run CMD with its output in .cache/logs/NAME.log; on failure
# print the step's name and the last lines of its log, and exit non-zero.
step() {
  local name=$1; shift
  local logf="$CACHE_DIR/logs/$name.log"
  log "step $name ..."
  if ! "$@" >"$logf" 2>&1; then
    log "ERROR: step '$name' failed (full log: $logf); last lines:"
    tail -n 40 "$logf" >&2
    exit 1
  fi
}

# apt_install PKG...: install Debian packages that are missing, once.
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  local sudo=""
  [[ $(id -u) == 0 ]] || sudo="sudo"
  local stamp="$CACHE_DIR/.apt-updated"
  if [[ ! -f $stamp ]] || [[ -n $(find "$stamp" -mmin +720 2>/dev/null) ]]; then
    step apt-update $sudo apt-get update -q
    touch "$stamp"
  fi
  step "apt-install-${missing[0]}" env DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}
