#!/usr/bin/env bash
# bench/proxy/run.sh: saringd's HTTP proxy against Squid, with nginx as the origin, over loopback.
#
#   bench/proxy/run.sh                  (from anywhere; ~10 minutes with the defaults)
#   LEGS="origin squid" bench/proxy/run.sh      (only some legs)
#
# Needs: wrk (4.1), squid (5.7), nginx (nginx-light), curl, python3 (stdlib only) and in
# $BUILD_DIR/bin (default build/bin): saringd, saringctl, gen_domains. Builds nothing.
# Runs as root or not; as root, Squid runs as user proxy (its temp dir is made world-readable).
# About 1 GiB of RAM (Squid holds the 5M list in ~330 MiB, per process: SMP multiplies it)
# and ~0.5 GiB in /tmp. Squid needs about a minute to parse the 5M-name ACL, at start and at
# each reconfigure.
# Never uses the system squid/nginx services: every server runs from its own config, with its
# pid file and logs in a temporary directory (/tmp/saring-proxybench.*), on free loopback ports,
# and is ended by PID on exit.
#
# Legs (LEGS, default "origin squid saring"):
#   origin  nginx (ORIGIN_WORKERS=1 worker) serving a ~1 KiB static page, hit by wrk directly
#           with origin-form requests: the ceiling of the machine (wrk-bound or nginx-bound)
#   squid   squid -N (one process, no cache: `cache deny all`), the 5M list as a dstdomain ACL
#           (`http_access deny blocked`), the origin's name from its own hosts_file.
#           SQUID_WORKERS=N > 1: Squid SMP (`workers N`, `squid --foreground`: a master, a
#           coordinator and N workers, each holding the list; CPU and RSS summed over them)
#   saring  saringd with a [proxy] section (SARING_THREADS=2 threads, static `hosts` table for
#           the origin's name, access log off), the 5M list imported into its store as source
#           trustpositif. Skipped with a message when the saringd binary has no proxy (the
#           config is refused) or its proxy port never answers.
# Through the proxies wrk sends absolute-form requests
#   GET http://origin.saring.test:NGINXPORT/page.html HTTP/1.1   (Host: origin.saring.test:PORT)
# (bench/proxy/proxy.lua); HOSTS=N > 1 spreads them over N names o1..oN.saring.test, all
# mapped to 127.0.0.1 in both proxies' host tables.
#
# The 5M list is build/bench-data/domains-5m.txt (shared with bench/feeds and bench/dns; made
# by gen_domains when missing). saring blocks a listed name and every name under it; Squid does
# that for ".name" entries, but Squid 5.7 aborts (FATAL "Bungled ... acl") when a ".parent"
# entry follows a name under it, so bench/proxy/squid_list.py writes the list as ".name"
# entries without the names that have a listed parent (156,540 of the 5M): same matches.
#
# What it measures, in this order:
#   1. start-up: exec until the first 200 for the origin page through the proxy (curl every
#      0.1 s); for saring: saringctl import time of the list beforehand, and its "ready in".
#   2. sanity: the page through each proxy (200, full size), a listed name and a name under it
#      (blocked: any code but 200/none, the same for both; Squid 403), an unknown name (logged
#      only), and the name only in LIST2 (must load: 200).
#   3. full load, interleaved: WARMUP s per leg, then ROUNDS rounds in the order A B C, C B A,
#      ... of `wrk -t THREADS -c CONNS -d DURATION --latency`: requests/s, latency p50/p90/
#      p99/p99.9 (exact, from wrk's histogram via done()), errors, server CPU per request
#      (utime+stime of the server process and its children from /proc/PID/stat, before/after,
#      divided by the requests; for the origin leg: nginx's), and the cores used during the
#      run by the server, the origin (nginx), wrk and everything else (other sessions), plus
#      hypervisor steal.
#   4. half load: wrk 4.1 has no rate limit, so each connection waits a fixed delay before each
#      request (proxy.lua's delay(): CONNS connections x 1000/delay_ms ~ the target rate, a bit
#      less by the response time). Target = HALF_SHARE (0.5) x the lowest full-load median
#      req/s among the proxies measured; every leg gets the same delay. HALF_ROUNDS rounds A B C,
#      C B A: achieved req/s and p50/p99/p99.9.
#   5. peak RSS: VmHWM of each server after the load runs (the proxy process; Squid -N does not
#      fork), and again after the reload.
#   6. full reload under load, per proxy: wrk at RELOAD_RATE req/s (delay() again, RELOAD_CONNS
#      connections) with a per-second timeline of responses (proxy.lua, WRK_TIMELINE); at
#      RELOAD_AT s the list is replaced by LIST2 (every 10th name replaced by a new one):
#        squid:  the ACL file switched to LIST2, then `squid -f CONF -k reconfigure`
#                (SQUID_RECONFIGURE=k, default; it parses the whole config itself before it
#                signals) or a plain `kill -HUP` (SQUID_RECONFIGURE=hup)
#        saring: `saringctl --db DB import --source trustpositif --force LIST2` (through the
#                running saringd's control socket)
#      then polls, each ~0.2 s on new connections (curl, 2 s timeout), the page (failed when
#      not 200: are new clients served?) and a name only in LIST2 that both host tables map
#      to the origin, until that name is blocked, then the page alone for RELOAD_TAIL s more,
#      and stops wrk. Reports the command's time, the time until LIST2 is in force, the failed page probes, wrk's
#      socket errors (connect/read/write/timeout; wrk keeps its connections open, so a proxy
#      that stops reading shows as few errors) and non-2xx/3xx responses, and from the
#      timeline the longest stretch of whole seconds without a 2xx response.
#
# Knobs (environment): LEGS ROUNDS=4 DURATION=10 WARMUP=3 THREADS=1 CONNS=32 WRK_TIMEOUT=2
# HALF_SHARE=0.5 HALF_ROUNDS=2 RELOAD=1 RELOAD_RATE=1000 RELOAD_CONNS=32 RELOAD_AT=5
# RELOAD_TAIL=10 RELOAD_TIMEOUT=400 SQUID_RECONFIGURE=k HOSTS=1 ORIGIN_WORKERS=1
# SARING_THREADS=2 SQUID_WORKERS=1 SQUID_START_TIMEOUT=600 SARING_START_TIMEOUT=120 LIST (default: the 5M list)
# KEEP_TMP=0 MAX_SECONDS=3000 OUT_DIR (default /tmp/saring-proxybench-results: raw outputs,
# rounds.tsv, summary.txt).
set -euo pipefail

if [[ -z ${SARING_PROXY_BENCH_INNER:-} ]]; then  # the whole run is bounded in time
  export SARING_PROXY_BENCH_INNER=1
  exec timeout --foreground --kill-after=60 "${MAX_SECONDS:-3000}" "$0" "$@"
fi

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$root/build}
bin=$build/bin
LEGS=${LEGS:-origin squid saring}
ROUNDS=${ROUNDS:-4}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
THREADS=${THREADS:-1}
CONNS=${CONNS:-32}
WRK_TIMEOUT=${WRK_TIMEOUT:-2}
HALF_SHARE=${HALF_SHARE:-0.5}
HALF_ROUNDS=${HALF_ROUNDS:-2}
RELOAD=${RELOAD:-1}
RELOAD_RATE=${RELOAD_RATE:-1000}
RELOAD_CONNS=${RELOAD_CONNS:-32}
RELOAD_AT=${RELOAD_AT:-5}
RELOAD_TAIL=${RELOAD_TAIL:-10}
RELOAD_TIMEOUT=${RELOAD_TIMEOUT:-400}
SQUID_RECONFIGURE=${SQUID_RECONFIGURE:-k}
HOSTS=${HOSTS:-1}
ORIGIN_WORKERS=${ORIGIN_WORKERS:-1}
SARING_THREADS=${SARING_THREADS:-2}
SQUID_WORKERS=${SQUID_WORKERS:-1}
SQUID_START_TIMEOUT=${SQUID_START_TIMEOUT:-600}
SARING_START_TIMEOUT=${SARING_START_TIMEOUT:-120}
OUT_DIR=${OUT_DIR:-/tmp/saring-proxybench-results}

want() { [[ " $LEGS " == *" $1 "* ]]; }
for tool in wrk curl nginx python3; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing (apt-get install wrk curl nginx-light)" >&2; exit 1; }
done
if want squid; then command -v squid >/dev/null || { echo "run.sh: squid is missing (apt-get install squid)" >&2; exit 1; }; fi
for tool in saringd saringctl gen_domains; do
  [[ -x $bin/$tool ]] || { echo "run.sh: $bin/$tool is missing; ninja -C $build $tool" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/saring-proxybench.XXXXXX)
chmod 755 "$tmp"    # Squid (user proxy) and nginx's worker (nobody) read files in here
source "$root/bench/lib.sh"  # pid, helpers, stop_pid, cleanup (trap), log, now_ns, secs_since, median
kv() { tr ' ' '\n' | awk -F= -v k="$1" '$1==k {print $2}'; }  # a key of a "RESULT k=v ..." line
result() { grep '^RESULT ' "$1" | tail -1 | kv "$2"; }           # file key
tree_pids() { echo "$1"; pgrep -P "$1" || true; }               # the process and its children
tree_ticks() {  # utime + stime (all threads) of a process and its children
  local t=0 q
  for q in $(tree_pids "$1"); do
    [[ -r /proc/$q/stat ]] && t=$((t + $(awk '{print $14 + $15}' "/proc/$q/stat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}
vmstat_tree() {  # FIELD PID: the field (kB) summed over the process and its children, in MiB
  local q
  for q in $(tree_pids "$2"); do cat "/proc/$q/status" 2>/dev/null || true; done |
    awk -v f="$1:" '$1 == f {t += $2} END {printf "%.1f", t / 1024}'
}
vmhwm() { vmstat_tree VmHWM "$1"; }  # peak RSS
vmrss() { vmstat_tree VmRSS "$1"; }
hz=$(getconf CLK_TCK)
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8; exit}' /proc/stat; }  # all CPUs, no idle/iowait/steal
steal_ticks() { awk '/^cpu / {print $9; exit}' /proc/stat; }
http_code() {  # proxy-or-empty url [max-time]: the status code, 000 when none
  local args=(-s -o /dev/null -w '%{http_code}' --max-time "${3:-2}")
  [[ -n $1 ]] && args+=(-x "http://$1")
  curl "${args[@]}" "$2" 2>/dev/null || true
}

summary=$tmp/summary.txt
: > "$summary"
out() { echo "$*" | tee -a "$summary"; }

# ---------------------------------------------------------------- ports, names, data
read -r -a ports <<< "$(python3 -c '
import socket
ss = [socket.socket() for _ in range(5)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')"
declare -A port=([origin]=${ports[0]} [squid]=${ports[1]} [saring]=${ports[2]} [saring_dns]=${ports[3]} [upstream]=${ports[4]})

if (( HOSTS > 1 )); then
  names=(); for i in $(seq "$HOSTS"); do names+=("o$i.saring.test"); done
else
  names=(origin.saring.test)
fi
names_csv=$(IFS=,; echo "${names[*]}")
page_url="http://${names[0]}:${port[origin]}/page.html"

data=$build/bench-data
list=${LIST:-$data/domains-5m.txt}
mkdir -p "$data"
if [[ ! -s $list && -z ${LIST:-} ]]; then
  log "generating the 5M list"
  "$bin/gen_domains" --domains 5000000 --queries 1000000 --out-list "$list" --out-queries "$data/queries-1m.txt"
fi
[[ -s $list ]] || { echo "run.sh: $list is missing" >&2; exit 1; }
list_lines=$(wc -l < "$list")
probe_blocked=$(sed -n 1p "$list")            # in both lists
probe_new="zz9-$(sed -n 10p "$list")"         # only in LIST2; in the host tables, so it loads until then
new_url="http://$probe_new:${port[origin]}/page.html"
probe_unknown=notlisted.saring.test           # neither listed nor in the host tables
if [[ $RELOAD == 1 ]]; then
  # LIST2: every 10th name replaced by a new one (gen_domains never makes a name starting "zz9-").
  awk 'NR % 10 == 0 {print "zz9-" $0; next} {print}' "$list" > "$tmp/list2.txt"
fi

mkdir -p "$tmp/runs"
runs=$tmp/runs
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$summary"
echo "versions: $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), $(nginx -v 2>&1 | cut -d' ' -f3), $(command -v squid >/dev/null && squid -v | head -1 | sed 's/.*Version /squid /')" | tee -a "$summary"
echo "list: $list ($list_lines names); wrk -t$THREADS -c$CONNS -d${DURATION}s; HOSTS=$HOSTS; legs: $LEGS; nginx workers $ORIGIN_WORKERS, squid workers $SQUID_WORKERS, saring threads $SARING_THREADS" | tee -a "$summary"

# ---------------------------------------------------------------- origin (nginx)
log "starting nginx on ${port[origin]} ($ORIGIN_WORKERS worker)"
ngdir=$tmp/nginx
mkdir -p "$ngdir/www"
chmod 755 "$ngdir" "$ngdir/www"
sed -e "s#@DIR@#$ngdir#g" -e "s#@PORT@#${port[origin]}#g" -e "s#@WORKERS@#$ORIGIN_WORKERS#g" \
  "$here/nginx.conf.in" > "$ngdir/nginx.conf"
{
  echo '<!DOCTYPE html>'
  echo '<html lang="en"><head><meta charset="utf-8"><title>saring proxy bench origin</title></head><body>'
  for i in $(seq 14); do echo "<p>Line $i of the origin page of bench/proxy/run.sh, about one kilobyte.</p>"; done
  echo '</body></html>'
} > "$ngdir/www/page.html"
page_bytes=$(wc -c < "$ngdir/www/page.html")
nginx -p "$ngdir" -c "$ngdir/nginx.conf" -g 'daemon off;' > "$ngdir/stdout.log" 2>&1 &
pid[origin]=$!
for _ in $(seq 100); do [[ $(http_code "" "http://127.0.0.1:${port[origin]}/page.html") == 200 ]] && break; sleep 0.1; done
[[ $(http_code "" "http://127.0.0.1:${port[origin]}/page.html") == 200 ]] ||
  { echo "run.sh: nginx does not answer:" >&2; cat "$ngdir/stdout.log" "$ngdir/error.log" >&2 || true; exit 1; }

# wait_proxy NAME: seconds from T0 (global) until the page comes through the proxy; fails when
# the process dies or after the timeout (returns 1, prints nothing)
wait_proxy() {
  local name=$1 limit=$2 deadline
  deadline=$(( $(date +%s) + limit ))
  while (( $(date +%s) < deadline )); do
    kill -0 "${pid[$name]}" 2>/dev/null || return 1
    if [[ $(http_code "127.0.0.1:${port[$name]}" "$page_url" 1) == 200 ]]; then secs_since "$T0"; return 0; fi
    sleep 0.1
  done
  return 1
}

legs=()
want origin && legs+=(origin)
declare -A start_s=() blocked_code=() note=()

# ---------------------------------------------------------------- squid
if want squid; then
  sqdir=$tmp/squid
  mkdir -p "$sqdir"
  log "writing the list for Squid (squid_list.py)"
  squid_list_a=$(python3 "$here/squid_list.py" "$list" "$sqdir/list-a.txt")
  log "  list: $squid_list_a"
  if [[ $RELOAD == 1 ]]; then
    squid_list_b=$(python3 "$here/squid_list.py" "$tmp/list2.txt" "$sqdir/list-b.txt")
    log "  LIST2: $squid_list_b"
  fi
  ln -sfn "$sqdir/list-a.txt" "$sqdir/list-current.txt"
  for n in "${names[@]}" "$probe_new"; do echo "127.0.0.1 $n"; done > "$sqdir/hosts"
  user_line=""
  if [[ $(id -u) == 0 ]]; then
    user_line="cache_effective_user proxy"
    chown proxy "$sqdir"
  fi
  # dns_nameservers 127.0.0.1: names outside the hosts file fail at once, nothing leaves the
  # machine (nothing answers DNS on 127.0.0.1:53 here; check with `ss -lun`)
  sed -e "s#@DIR@#$sqdir#g" -e "s#@PORT@#${port[squid]}#g" -e "s#@USER_LINE@#$user_line#" \
      -e "s#@WORKERS@#$SQUID_WORKERS#" -e "s#@ACCESS_LOG@#none#" -e "s#@LIST@#$sqdir/list-current.txt#" \
      "$here/squid.conf.in" > "$sqdir/squid.conf"
  printf 'dns_nameservers 127.0.0.1\ndns_timeout 2 seconds\n' >> "$sqdir/squid.conf"
  chmod 644 "$sqdir"/*.txt "$sqdir/hosts" "$sqdir/squid.conf"
  log "starting squid on ${port[squid]} with the list (about a minute per 5M names)"
  T0=$(now_ns)
  if (( SQUID_WORKERS == 1 )); then
    squid -N -f "$sqdir/squid.conf" > "$sqdir/stdout.log" 2>&1 &
  else  # SMP: a master in the foreground, its kids (coordinator + workers) are counted with it
    squid --foreground -f "$sqdir/squid.conf" > "$sqdir/stdout.log" 2>&1 &
  fi
  pid[squid]=$!
  if ! start_s[squid]=$(wait_proxy squid "$SQUID_START_TIMEOUT"); then
    echo "run.sh: squid did not serve within ${SQUID_START_TIMEOUT}s; its log:" >&2
    tail -20 "$sqdir/cache.log" "$sqdir/stdout.log" >&2 || true
    exit 1
  fi
  log "squid serves after ${start_s[squid]} s (VmHWM $(vmhwm "${pid[squid]}") MiB)"
  legs+=(squid)
fi

# ---------------------------------------------------------------- saring
if want saring; then
  sadir=$tmp/saring
  db=$sadir/db
  mkdir -p "$sadir"
  log "saringctl init + import of the list"
  timeout 120 "$bin/saringctl" --db "$db" --rules "" init > "$sadir/init.out" 2>&1
  /usr/bin/time -f "%e %M" -o "$sadir/import.time" \
    timeout 600 "$bin/saringctl" --db "$db" import --source trustpositif --category gambling "$list" > "$sadir/import.out" 2>&1
  import_secs=$(awk '{print $1}' "$sadir/import.time")
  import_mib=$(awk '{printf "%.0f", $2/1024}' "$sadir/import.time")
  log "  import: $import_secs s, saringctl peak RSS $import_mib MiB: $(head -c 200 "$sadir/import.out" | tr '\n' ' ')"
  hosts_toml=$(for n in "${names[@]}" "$probe_new"; do printf '"%s" = "127.0.0.1", ' "$n"; done | sed 's/, $//')
  cat > "$sadir/saringd.toml" <<EOF
[server]
dns_listen = ["127.0.0.1:${port[saring_dns]}"]
workers = 1
db = "$db"
rules = ""
allow_clients = ["127.0.0.0/8"]

[upstream]
servers = ["127.0.0.1:${port[upstream]}"]   # not used: the proxy has a static hosts table

[admin]
listen = ""

[feeds]
schedule = false

[proxy]
listen = "127.0.0.1:${port[saring]}"
threads = $SARING_THREADS
hosts = { $hosts_toml }
access_log = ""
EOF
  log "starting saringd (proxy on ${port[saring]})"
  T0=$(now_ns)
  "$bin/saringd" --config "$sadir/saringd.toml" > "$sadir/saringd.log" 2>&1 &
  pid[saring]=$!
  if start_s[saring]=$(wait_proxy saring "$SARING_START_TIMEOUT"); then
    ready=$(sed -n 's/.* ready in \([0-9.]*\) s.*/\1/p' "$sadir/saringd.log" | head -1)
    log "saringd's proxy serves after ${start_s[saring]} s (log: ready in ${ready:-?} s)"
    legs+=(saring)
  else
    why=$(grep -m1 -iE 'error|fatal|unknown' "$sadir/saringd.log" || tail -1 "$sadir/saringd.log" || true)
    if kill -0 "${pid[saring]}" 2>/dev/null; then
      why="its proxy port ${port[saring]} did not answer within ${SARING_START_TIMEOUT}s ($why)"
    else
      why="saringd exited: $why"
    fi
    note[saring]="SKIPPED: $why"
    log "saring leg skipped: $why"
    stop_pid "${pid[saring]}"
    unset 'pid[saring]'
  fi
fi

proxies=()
for l in "${legs[@]}"; do [[ $l != origin ]] && proxies+=("$l"); done

# ---------------------------------------------------------------- sanity
for p in "${proxies[@]}"; do
  body=$(curl -s --max-time 5 -x "http://127.0.0.1:${port[$p]}" "$page_url" | wc -c)
  [[ $body == "$page_bytes" ]] || { echo "run.sh: $p returned $body bytes for the page, not $page_bytes" >&2; exit 1; }
  c1=$(http_code "127.0.0.1:${port[$p]}" "http://$probe_blocked/" 5)
  c2=$(http_code "127.0.0.1:${port[$p]}" "http://www.$probe_blocked/x?y=1" 5)
  c3=$(http_code "127.0.0.1:${port[$p]}" "http://$probe_unknown/" 6)
  c4=$(http_code "127.0.0.1:${port[$p]}" "$new_url" 6)
  log "$p: page 200 ($page_bytes bytes); $probe_blocked -> $c1, www.$probe_blocked -> $c2, $probe_unknown -> $c3, $probe_new (LIST2 only) -> $c4"
  if [[ $c1 == 200 || $c1 == 000 || $c2 != "$c1" ]]; then
    echo "run.sh: $p does not block $probe_blocked (codes $c1, $c2)" >&2; exit 1
  fi
  [[ $c4 == 200 ]] || { echo "run.sh: $p answers $c4 for $new_url before the reload, not 200" >&2; exit 1; }
  blocked_code[$p]=$c1
done

# ---------------------------------------------------------------- load runs
# wrk_run LEG SECONDS CONNS OUTFILE DELAY_MS(or "") TIMELINE(0/1): wrk in the foreground
wrk_env() {  # LEG DELAY TIMELINE -> env assignments
  local mode=proxy
  [[ $1 == origin ]] && mode=origin
  echo "WRK_MODE=$mode WRK_HOSTS=$names_csv WRK_PORT=${port[origin]} WRK_PATH=/page.html WRK_DELAY_MS=$2 WRK_TIMELINE=$3"
}
wrk_url() { if [[ $1 == origin ]]; then echo "http://127.0.0.1:${port[origin]}/page.html"; else echo "http://127.0.0.1:${port[$1]}/"; fi; }
wrk_run() {
  local leg=$1 secs=$2 conns=$3 f=$4
  # shellcheck disable=SC2046
  /usr/bin/time -f "%U %S" -o "$f.cpu" timeout $((secs + 60)) env $(wrk_env "$leg" "$5" "$6") \
    wrk -t"$THREADS" -c"$conns" -d"${secs}s" --timeout "${WRK_TIMEOUT}s" --latency -s "$here/proxy.lua" \
    "$(wrk_url "$leg")" > "$f" 2>&1 || true
  grep -q '^RESULT ' "$f" || { echo "run.sh: wrk failed ($f):" >&2; cat "$f" >&2; exit 1; }
}
rounds=$tmp/rounds.tsv
echo -e "kind\tround\tleg\trps\tp50_us\tp90_us\tp99_us\tp999_us\tmax_us\terrors\tnon2xx\tcpu_us_per_req\tserver_cores\torigin_cores\twrk_cores\tother_cores\tsteal_cores" > "$rounds"
# measured_run KIND ROUND LEG SECONDS CONNS DELAY: one row of rounds.tsv
measured_run() {
  local kind=$1 r=$2 leg=$3 secs=$4 conns=$5 dl=$6 f
  f=$runs/$kind-r$r-$leg.txt
  local c0 o0 b0 s0 c1 o1 b1 s1
  c0=$(tree_ticks "${pid[$leg]}") o0=$(tree_ticks "${pid[origin]}") b0=$(busy_ticks) s0=$(steal_ticks)
  wrk_run "$leg" "$secs" "$conns" "$f" "$dl" 0
  c1=$(tree_ticks "${pid[$leg]}") o1=$(tree_ticks "${pid[origin]}") b1=$(busy_ticks) s1=$(steal_ticks)
  local n d rps
  n=$(result "$f" requests) d=$(result "$f" duration_us) rps=$(result "$f" rps)
  [[ $leg == origin ]] && { o0=0; o1=0; }  # the origin is the server of this leg
  local extra
  extra=$(awk -v c0="$c0" -v c1="$c1" -v o0="$o0" -v o1="$o1" -v b0="$b0" -v b1="$b1" -v s0="$s0" -v s1="$s1" \
    -v hz="$hz" -v n="$n" -v d="$d" -v w="$(awk '{print $1 + $2}' "$f.cpu")" \
    'BEGIN {secs = d / 1e6; srv = (c1 - c0) / hz; org = (o1 - o0) / hz; all = (b1 - b0) / hz
            o = (all - srv - org - w) / secs; if (o < 0) o = 0
            printf "%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f", srv * 1e6 / n, srv / secs, org / secs, w / secs, o, (s1 - s0) / hz / secs}')
  local errs
  errs=$(( $(result "$f" connect) + $(result "$f" read) + $(result "$f" write) + $(result "$f" timeout) ))
  echo -e "$kind\t$r\t$leg\t$rps\t$(result "$f" p50_us)\t$(result "$f" p90_us)\t$(result "$f" p99_us)\t$(result "$f" p999_us)\t$(result "$f" max_us)\t$errs\t$(result "$f" status)\t$extra" >> "$rounds"
  log "$kind round $r $leg: $rps req/s, p50/p99 $(result "$f" p50_us)/$(result "$f" p99_us) us, errors $errs, non-2xx $(result "$f" status), cpu/req $(echo "$extra" | cut -f1) us, cores server/origin/wrk/other $(echo "$extra" | cut -f2-5 | tr '\t' /)"
}
order_of_round() {  # round -> legs, reversed on even rounds
  if (( $1 % 2 == 1 )); then echo "${legs[*]}"; else local i o=(); for ((i = ${#legs[@]} - 1; i >= 0; i--)); do o+=("${legs[$i]}"); done; echo "${o[*]}"; fi
}

for l in "${legs[@]}"; do
  log "warm-up: $l ($WARMUP s)"
  wrk_run "$l" "$WARMUP" "$CONNS" "$runs/warmup-$l.txt" "" 0
done
for r in $(seq "$ROUNDS"); do
  for l in $(order_of_round "$r"); do measured_run full "$r" "$l" "$DURATION" "$CONNS" ""; done
done

col() { awk -F'\t' -v k="$1" -v s="$2" -v c="$3" 'NR > 1 && $1 == k && $3 == s {print $c}' "$rounds" | median; }
declare -A rps=()
for l in "${legs[@]}"; do rps[$l]=$(col full "$l" 4); done

# half load: the same delay for every leg
ref=""
for p in "${proxies[@]}"; do
  if [[ -z $ref ]] || awk -v a="${rps[$p]}" -v b="$ref" 'BEGIN {exit !(a < b)}'; then ref=${rps[$p]}; fi
done
[[ -z $ref ]] && ref=${rps[origin]:-1000}
half_target=$(awk -v r="$ref" -v s="$HALF_SHARE" 'BEGIN {printf "%.0f", r * s}')
half_delay=$(awk -v c="$CONNS" -v t="$half_target" 'BEGIN {printf "%.3f", c * 1000 / t}')
if (( HALF_ROUNDS > 0 )); then
  log "half load: target $half_target req/s = $HALF_SHARE x $ref; $CONNS connections, each waits $half_delay ms before each request"
  for r in $(seq "$HALF_ROUNDS"); do
    for l in $(order_of_round "$r"); do measured_run half "$r" "$l" "$DURATION" "$CONNS" "$half_delay"; done
  done
fi

declare -A hwm=() rss=()
for l in "${legs[@]}"; do hwm[$l]=$(vmhwm "${pid[$l]}"); rss[$l]=$(vmrss "${pid[$l]}"); done

# ---------------------------------------------------------------- reload under load
declare -A rl_cmd=() rl_apply=() rl_probe=() rl_line=() rl_gap=() rl_min=() hwm_after=()
reload_squid() {
  ln -sfn "$sqdir/list-b.txt" "$sqdir/list-current.txt"
  if [[ $SQUID_RECONFIGURE == hup ]]; then kill -HUP "${pid[squid]}"
  else timeout "$RELOAD_TIMEOUT" squid -f "$sqdir/squid.conf" -k reconfigure; fi
}
reload_saring() {
  timeout "$RELOAD_TIMEOUT" "$bin/saringctl" --db "$db" import --source trustpositif --category gambling \
    --force "$tmp/list2.txt"
}
reload_test() {
  local p=$1
  local f=$runs/reload-$p.txt dl wp ap t0 t_cmd="" t_apply="" deadline gap_min probes_ok=0 probes_bad=0
  dl=$(awk -v c="$RELOAD_CONNS" -v t="$RELOAD_RATE" 'BEGIN {printf "%.3f", c * 1000 / t}')
  log "reload under load: $p (wrk ~$RELOAD_RATE req/s, reload at ${RELOAD_AT}s)"
  # shellcheck disable=SC2046
  env $(wrk_env "$p" "$dl" 1) wrk -t"$THREADS" -c"$RELOAD_CONNS" -d"$((RELOAD_TIMEOUT + 120))s" \
    --timeout "${WRK_TIMEOUT}s" --latency -s "$here/proxy.lua" "$(wrk_url "$p")" > "$f" 2>&1 &
  wp=$!
  helpers+=("$wp")
  sleep "$RELOAD_AT"
  t0=$(now_ns)
  date +%s > "$f.t0"
  "reload_$p" > "$f.action" 2>&1 &
  ap=$!
  helpers+=("$ap")
  deadline=$(( $(date +%s) + RELOAD_TIMEOUT ))
  while (( $(date +%s) < deadline )); do
    if [[ -z $t_cmd ]] && ! kill -0 "$ap" 2>/dev/null; then
      t_cmd=$(secs_since "$t0")
      wait "$ap" || log "$p: the reload command failed: $(tail -3 "$f.action")"
    fi
    # a fresh connection for the page (is the proxy taking new clients?), then the new name
    if [[ $(http_code "127.0.0.1:${port[$p]}" "$page_url" 2) == 200 ]]; then probes_ok=$((probes_ok + 1)); else probes_bad=$((probes_bad + 1)); fi
    if [[ -z $t_apply && $(http_code "127.0.0.1:${port[$p]}" "$new_url" 2) == "${blocked_code[$p]}" ]]; then
      t_apply=$(secs_since "$t0")
    fi
    [[ -n $t_cmd && -n $t_apply ]] && break
    sleep 0.2
  done
  [[ -z $t_cmd ]] && { stop_pid "$ap"; t_cmd="timeout"; }
  [[ -z $t_apply ]] && { t_apply="never"; log "$p: $probe_new never got blocked"; }
  local pc
  pc=$(http_code "127.0.0.1:${port[$p]}" "$page_url" 5)
  [[ $pc == 200 ]] || log "$p: the page answers $pc after the reload"
  deadline=$(( $(date +%s) + RELOAD_TAIL ))
  while (( $(date +%s) < deadline )); do  # page probes go on while wrk runs on
    if [[ $(http_code "127.0.0.1:${port[$p]}" "$page_url" 2) == 200 ]]; then probes_ok=$((probes_ok + 1)); else probes_bad=$((probes_bad + 1)); fi
    sleep 0.2
  done
  kill -INT "$wp" 2>/dev/null || true
  wait "$wp" || true
  helpers=()
  rl_cmd[$p]=$t_cmd rl_apply[$p]=$t_apply rl_probe[$p]="$((probes_ok + probes_bad)) tried, $probes_bad failed"
  rl_line[$p]="requests $(result "$f" requests), connect $(result "$f" connect), read $(result "$f" read), write $(result "$f" write), timeout $(result "$f" timeout), non-2xx $(result "$f" status), p99 $(result "$f" p99_us) us, max $(result "$f" max_us) us"
  # the timeline: longest run of whole seconds with no successful response, and the lowest
  # count in a whole second (the first and last seconds of the run are partial: left out)
  gap_min=$(awk '$1 == "TL" {ok[$2] = $3 - $4; if (!first || $2 < first) first = $2; if ($2 > last) last = $2}
    END {gap = 0; run = 0; min = -1
         for (s = first + 1; s < last; s++) {v = ok[s] + 0; if (v == 0) {run++; if (run > gap) gap = run} else run = 0
                                           if (min < 0 || v < min) min = v}
         print gap, min}' "$f")
  rl_gap[$p]=${gap_min% *} rl_min[$p]=${gap_min#* }
  hwm_after[$p]=$(vmhwm "${pid[$p]}")
  log "$p reload: command $t_cmd s, new list in force after $t_apply s; curl page probes (new connections) ${rl_probe[$p]}; ${rl_line[$p]}; longest stretch without a 2xx: ${rl_gap[$p]} s; lowest 2xx in a second: ${rl_min[$p]}"
}
if [[ $RELOAD == 1 ]]; then
  for p in "${proxies[@]}"; do reload_test "$p"; done
fi

# ---------------------------------------------------------------- summary
out ""
out "== full load: wrk -t$THREADS -c$CONNS -d${DURATION}s, ${ROUNDS} rounds (A B C, C B A, ...); half load: $HALF_ROUNDS rounds at $half_target req/s offered (delay $half_delay ms x $CONNS connections)"
awk -F'\t' 'NR == 1 {printf "%-4s %2s %-6s %9s %7s %7s %7s %8s %8s %6s %6s %8s %6s %6s %6s %6s %6s\n", "kind", "r", "leg", "req/s", "p50us", "p90us", "p99us", "p99.9us", "max_us", "errs", "non2xx", "cpu_us/r", "srv_c", "org_c", "wrk_c", "oth_c", "steal"; next}
  {printf "%-4s %2s %-6s %9.0f %7d %7d %7d %8d %8d %6d %6d %8.1f %6.2f %6.2f %6.2f %6.2f %6.2f\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17}' "$rounds" | tee -a "$summary"
out ""
out "== summary (medians over the rounds; cores: srv = the server, org = nginx behind a proxy, oth = everyone else)"
printf '%-7s %10s %9s %9s %10s %10s %10s %12s %11s %11s\n' leg "req/s" "p50 us" "p99 us" "cpu us/req" "half p50" "half p99" "start (s)" "VmHWM MiB" "RSS MiB" | tee -a "$summary"
for l in "${legs[@]}"; do
  printf '%-7s %10.0f %9.0f %9.0f %10.1f %10s %10s %12s %11s %11s\n' "$l" "${rps[$l]}" "$(col full "$l" 5)" "$(col full "$l" 7)" \
    "$(col full "$l" 12)" "$( ((HALF_ROUNDS > 0)) && col half "$l" 5 || echo -)" "$( ((HALF_ROUNDS > 0)) && col half "$l" 7 || echo -)" \
    "${start_s[$l]:--}" "${hwm[$l]}" "${rss[$l]}" | tee -a "$summary"
done
for l in "${!note[@]}"; do out "$l: ${note[$l]}"; done
busy_rounds=$(awk -F'\t' 'NR > 1 && $16 > 0.25' "$rounds" | wc -l)
if (( busy_rounds > 0 )); then
  out "WARNING: in $busy_rounds of $(( $(wc -l < "$rounds") - 1 )) runs other processes used more than 0.25 cores (oth_c): those figures are disturbed"
fi
ratio_rounds() {  # A B: per-round A/B req/s, "min..max"
  awk -F'\t' -v a="$1" -v b="$2" '$1 == "full" {q[$2 "," $3] = $4; r[$2] = 1}
    END {for (k in r) {x = q[k "," a] / q[k "," b]; if (min == "" || x < min) min = x; if (x > max) max = x}
         printf "%.2f..%.2f", min, max}' "$rounds"
}
ratio() { awk -v a="${rps[$1]}" -v b="${rps[$2]}" 'BEGIN {printf "%.2f", a / b}'; }
out ""
out "== ratios of median req/s (per-round range)"
for pair in "saring squid" "saring origin" "squid origin"; do
  read -r a b <<< "$pair"
  [[ -n ${rps[$a]:-} && -n ${rps[$b]:-} ]] && out "$a / $b: $(ratio "$a" "$b") ($(ratio_rounds "$a" "$b"))"
done
if [[ -n ${import_secs:-} ]]; then out "saring: saringctl import of the list before start: $import_secs s (saringctl peak RSS $import_mib MiB)"; fi
if [[ -n ${squid_list_a:-} ]]; then out "squid list: $squid_list_a"; fi
if [[ $RELOAD == 1 ]]; then
  out ""
  out "== reload under load (~$RELOAD_RATE req/s offered, $RELOAD_CONNS connections, wrk --timeout ${WRK_TIMEOUT}s; squid: $([[ $SQUID_RECONFIGURE == hup ]] && echo 'kill -HUP' || echo 'squid -k reconfigure'))"
  for p in "${proxies[@]}"; do
    out "$p: command ${rl_cmd[$p]} s; LIST2 in force after ${rl_apply[$p]} s; wrk: ${rl_line[$p]}"
    out "$p:   the page by curl on a new connection every ~0.2 s (2 s timeout), from the reload to ${RELOAD_TAIL} s after LIST2 was in force: ${rl_probe[$p]}"
    out "$p:   longest stretch without a 2xx response: ${rl_gap[$p]} s (whole seconds); lowest 2xx count in one second: ${rl_min[$p]}; VmHWM after: ${hwm_after[$p]} MiB"
  done
fi
out ""
out "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

mkdir -p "$OUT_DIR"
cp "$summary" "$rounds" "$OUT_DIR/"
rm -rf "$OUT_DIR/runs"
cp -r "$runs" "$OUT_DIR/runs"
for f in "$tmp/squid/cache.log" "$tmp/saring/saringd.log" "$tmp/saring/saringd.toml" "$tmp/squid/squid.conf" "$tmp/nginx/error.log"; do
  [[ -f $f ]] && cp "$f" "$OUT_DIR/$(basename "$(dirname "$f")")-$(basename "$f")"
done
log "raw outputs in $OUT_DIR"
