# Shell helpers the bench scripts share (sourced, not run). The sourcing script
# sets `tmp` (its temporary folder) and registers what it starts in `pid`
# (server name -> PID) and `helpers` (background runs); cleanup, on any exit,
# ends them by PID and removes `tmp` unless KEEP_TMP=1.
declare -A pid=()   # server name -> PID
helpers=()          # background runs (load generators, probes, reload commands) still running

stop_pid() {  # TERM, up to 15 s, then KILL; only our own children
  local p=$1
  kill -0 "$p" 2>/dev/null || return 0
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for p in "${helpers[@]}"; do stop_pid "$p"; done
  for name in "${!pid[@]}"; do stop_pid "${pid[$name]}"; done
  if [[ -d ${tmp:-} && ${KEEP_TMP:-0} != 1 ]]; then rm -rf "$tmp"; elif [[ -d ${tmp:-} ]]; then echo "kept $tmp" >&2; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
now_ns() { date +%s%N; }
secs_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN {printf "%.2f", (b - a) / 1e9}'; }
median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
