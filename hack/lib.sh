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

# Progress of long work (hack/setup.sh and anything it runs). A top-level script calls
# `progress_plan NAME...` with the steps it means to run; every `step` then prints
# "[n of m]" and its elapsed time, a step running past $SENSORPIPE_HEARTBEAT seconds says
# every so often what it is doing (the last line of its own log or of the step nested in
# it), and `progress_summary` ends with each step's time. A step missing from the plan
# joins it when it starts, so a new step never breaks the count; steps nested inside a
# step (a script that itself calls `step`) write their lines into the outer step's log.
SENSORPIPE_HEARTBEAT=${SENSORPIPE_HEARTBEAT:-30}

# fmt_secs N: 75 -> "1m15s", 8 -> "8s".
fmt_secs() { (($1 >= 60)) && printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)) || printf '%ds' "$1"; }

# progress_plan NAME...: start counting this run's steps (exported, so the scripts it runs share it).
progress_plan() {
  SENSORPIPE_PROGRESS=$(mktemp -d "${TMPDIR:-/tmp}/sensorpipe-progress.XXXXXX")
  export SENSORPIPE_PROGRESS
  printf '%s\n' "$@" >"$SENSORPIPE_PROGRESS/plan"
  : >"$SENSORPIPE_PROGRESS/times"
  date +%s >"$SENSORPIPE_PROGRESS/start"
}

# progress_position NAME: "n of m" for a planned step (appending an unplanned one).
progress_position() {
  local plan="$SENSORPIPE_PROGRESS/plan" n
  n=$(flock "$plan" bash -c 'grep -qxF -- "$1" "$2" || echo "$1" >>"$2"; grep -nxF -- "$1" "$2" | head -n1 | cut -d: -f1' _ "$1" "$plan")
  echo "$n of $(wc -l <"$plan")"
}

# heartbeat LABEL LOGFILE STARTED: every $SENSORPIPE_HEARTBEAT s, say the step still runs and
# what its log (or the log of the step running inside it) last said. Ends quietly on TERM.
heartbeat() {
  local label=$1 logf=$2 started=$3 sleeper="" what inner where
  trap '[[ -z $sleeper ]] || kill "$sleeper" 2>/dev/null; exit 0' TERM
  while true; do
    sleep "$SENSORPIPE_HEARTBEAT" & sleeper=$!
    wait "$sleeper"
    inner=$(cat "$logf.inner" 2>/dev/null || true) where=""
    if [[ -n $inner && -f $inner ]]; then where=" ($(basename "$inner" .log))"; else inner=$logf; fi
    # the last line with words in it, without colour codes (Maven prints bare ones)
    what=$(sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$inner" 2>/dev/null | grep '[[:alnum:]]' | tail -n 1 |
      cut -c1-110 || true)
    log "$label still running after $(fmt_secs $(($(date +%s) - started)))$where${what:+: $what}"
  done
}

# step NAME CMD...: run CMD with its output in .cache/logs/NAME.log; on failure
# print the step's name and the last lines of its log, and exit non-zero.
step() {
  local name=$1; shift
  local logf="$CACHE_DIR/logs/$name.log" label=$name started rc=0 hb
  started=$(date +%s)
  # Nested in another step: tell the outer step's heartbeat where the work now is.
  [[ -z ${SENSORPIPE_STEP_LOG:-} ]] || echo "$logf" >"$SENSORPIPE_STEP_LOG.inner"
  if [[ -n ${SENSORPIPE_PROGRESS:-} && -z ${SENSORPIPE_STEP_LOG:-} ]]; then
    label="[$(progress_position "$name")] $name"
  fi
  log "$label ..."
  rm -f "$logf.inner"
  heartbeat "$label" "$logf" "$started" & hb=$!
  SENSORPIPE_STEP_LOG=$logf "$@" >"$logf" 2>&1 || rc=$?
  kill "$hb" 2>/dev/null || true
  wait "$hb" 2>/dev/null || true
  rm -f "$logf.inner"
  local took=$(($(date +%s) - started))
  if [[ -n ${SENSORPIPE_PROGRESS:-} && -z ${SENSORPIPE_STEP_LOG:-} ]]; then
    printf '%s\t%s\t%s\n' "$name" "$took" "$( ((rc == 0)) && echo ok || echo "FAILED (rc=$rc)")" \
      >>"$SENSORPIPE_PROGRESS/times"
  fi
  if ((rc != 0)); then
    log "ERROR: step '$name' failed after $(fmt_secs "$took") (full log: $logf); last lines:"
    tail -n 40 "$logf" >&2
    exit 1
  fi
  log "$label done in $(fmt_secs "$took")"
}

# stage_plan NAME... / stage NAME: the same "[n of m]" for the stages of a script whose output
# people watch as it comes (the demo), where `step` would hide it in a log. Not exported: the
# scripts a stage runs (hack/stack.sh) keep their own count.
stage_plan() {
  STAGES=("$@")
  STAGES_START=$(date +%s)
}
stage() {
  local i n=0
  for i in "${!STAGES[@]}"; do [[ ${STAGES[$i]} == "$1" ]] && n=$((i + 1)); done
  ((n)) || die "stage '$1' is not in the plan (${STAGES[*]})"
  log "[$n of ${#STAGES[@]}] $1 (at $(fmt_secs $(($(date +%s) - STAGES_START))))"
}

# progress_summary: each planned step's time, in plan order, and the whole run's.
progress_summary() {
  [[ -n ${SENSORPIPE_PROGRESS:-} ]] || return 0
  local total=$(($(date +%s) - $(cat "$SENSORPIPE_PROGRESS/start"))) name line
  log "summary (steps in parallel overlap; wall clock $(fmt_secs "$total")):"
  while read -r name; do
    line=$(awk -F'\t' -v n="$name" '$1 == n {print; exit}' "$SENSORPIPE_PROGRESS/times")
    if [[ -n $line ]]; then
      printf '  %-24s %8s  %s\n' "$name" "$(fmt_secs "$(cut -f2 <<<"$line")")" "$(cut -f3 <<<"$line")" >&2
    else
      printf '  %-24s %8s  %s\n' "$name" "-" "not run" >&2
    fi
  done <"$SENSORPIPE_PROGRESS/plan"
  rm -rf "$SENSORPIPE_PROGRESS"
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
