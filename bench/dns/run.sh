#!/usr/bin/env bash
# bench/dns/run.sh: saringd against Unbound and a trivial UDP responder, over loopback only.
#
#   bench/dns/run.sh            (from the repository root; takes about 7 minutes)
#
# Needs: unbound + unbound-control, dnsperf (2.10), dig (Debian packages unbound, dnsperf,
# bind9-dnsutils), and in $BUILD_DIR/bin (default build/bin): saringd, saringctl,
# gen_domains, udp_responder, dns_probe
#   ninja -C build saringd saringctl gen_domains udp_responder dns_probe
# About 3 GiB of RAM (Unbound holds the 5M-name list as local-zones: ~2.1 GiB) and ~1 GiB in /tmp.
#
# Four servers run side by side, each on its own loopback port:
#   saring          saringd (2 workers) with the 5M synthetic list imported as source
#                   trustpositif; the names it lets through go to an upstream Unbound that
#                   answers them from local-data (and refuses everything else), then come from
#                   saringd's cache
#   unbound_list    Unbound, the same 5M names as `local-zone: "NAME." always_nxdomain`
#   unbound_nolist  Unbound without the list
#   responder       udp_responder (bench/dns/udp_responder.cc): echoes every datagram as
#                   NXDOMAIN; the packet-I/O ceiling of the machine
# Every Unbound has `local-zone: "." refuse`, `local-zone: "bench.test." static` and
# local-data for a0..a999.bench.test, so nothing leaves the machine.
#
# Query mix (200k queries, shuffled): half blocked names drawn from the list (30% of them with
# an extra label, www. or m.), half allowed names a0..a999.bench.test.
#
# What it measures, in this order:
#   1. start: time from exec until the first NXDOMAIN for a listed name (dns_probe wait, a
#      query every 10 ms); saringd started 3 times (median), plus its own "ready in X s".
#   2. throughput, interleaved: a warm-up dnsperf run per server, then ROUNDS rounds in the
#      order A B C D, D C B A, ... of `dnsperf -l DURATION -c 4 -Q 400000` (QPS, lost, average
#      latency and its stddev, server CPU per answer), each followed by LAT_SECONDS of
#      open-loop latency sampling at LAT_RATE qps (dns_probe stream: p50/p99/p99.9).
#   3. peak RSS: VmHWM of each server after the throughput rounds.
#   4. full reload under load (dnsperf -Q RELOAD_RATE -q 2000 -t 1, plus dns_probe stream at
#      2000 qps open loop for the longest unanswered stretch):
#      saringd: `saringctl import --source trustpositif --force LIST2` through its control
#      socket, LIST2 = the list with every 10th name replaced (500k removed, 500k added);
#      Unbound with the list: the include switched to LIST2, then `unbound-control reload`;
#      Unbound without list: `unbound-control reload`.
#
# Knobs (environment): ROUNDS=4 DURATION=10 WARMUP=5 LAT_RATE=10000 LAT_SECONDS=3
# RELOAD_RATE=20000 BASE_PORT=25300 (uses BASE_PORT+1..+8) LIST (default: the 5M list)
# BUNDLED_RULES=0 (1: saringctl init with the bundled rules/, 165 Hyperscan patterns included)
# KEEP_TMP=0 MAX_SECONDS=1500 OUT_DIR (default $BUILD_DIR/bench-dns: raw outputs, summary.md).
# Every process it starts is ended by PID on exit; temporary files live in /tmp/saring-dnsbench.*
set -euo pipefail

if [[ -z ${SARING_DNS_BENCH_INNER:-} ]]; then  # the whole run is bounded in time
  export SARING_DNS_BENCH_INNER=1
  exec timeout --foreground --kill-after=60 "${MAX_SECONDS:-1500}" "$0" "$@"
fi

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
bin=$build/bin
ROUNDS=${ROUNDS:-4}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-5}
LAT_RATE=${LAT_RATE:-10000}
LAT_SECONDS=${LAT_SECONDS:-3}
RELOAD_RATE=${RELOAD_RATE:-20000}
BASE_PORT=${BASE_PORT:-25300}
BUNDLED_RULES=${BUNDLED_RULES:-0}
OUT_DIR=${OUT_DIR:-$build/bench-dns}

for tool in unbound unbound-control dnsperf dig; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing (apt-get install unbound dnsperf bind9-dnsutils)" >&2; exit 1; }
done
for tool in saringd saringctl gen_domains udp_responder dns_probe; do
  [[ -x $bin/$tool ]] || { echo "run.sh: $bin/$tool is missing; ninja -C $build $tool" >&2; exit 1; }
done

declare -A port=(
  [saring]=$((BASE_PORT + 1)) [unbound_list]=$((BASE_PORT + 2)) [unbound_nolist]=$((BASE_PORT + 3))
  [responder]=$((BASE_PORT + 4)) [upstream]=$((BASE_PORT + 5))
)
declare -A cport=([unbound_list]=$((BASE_PORT + 6)) [unbound_nolist]=$((BASE_PORT + 7)))
for p in $(seq $((BASE_PORT + 1)) $((BASE_PORT + 8))); do
  if [[ -n $(ss -Hlnu "sport = :$p") || -n $(ss -Hlnt "sport = :$p") ]]; then
    echo "run.sh: port $p is in use; set BASE_PORT" >&2
    exit 1
  fi
done
servers=(saring unbound_list unbound_nolist responder)

tmp=$(mktemp -d /tmp/saring-dnsbench.XXXXXX)
source "$root/bench/lib.sh"  # pid, helpers, stop_pid, cleanup (trap), log, now_ns, median
kv() { tr ' ' '\n' | awk -F= -v k="$1" '$1==k {print $2}'; }  # a key of dns_probe's output
vmhwm() { awk '/^VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
vmrss() { awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime of all threads
hz=$(getconf CLK_TCK)
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8; exit}' /proc/stat; }  # all CPUs, no idle/iowait/steal
steal_ticks() { awk '/^cpu / {print $9; exit}' /proc/stat; }
rcvbuf_errors() { awk '/^Udp:/ {if (!h) {for (i = 2; i <= NF; i++) c[$i] = i; h = 1} else {print $c["RcvbufErrors"]; exit}}' /proc/net/snmp; }
sock_drops() { ss -Huanm "sport = :$1" | sed -n 's/.*,d\([0-9]*\)).*/\1/p' | awk '{n += $1} END {print n + 0}'; }  # the server's sockets

# ---------------------------------------------------------------- data
data=$build/bench-data
list=${LIST:-$data/domains-5m.txt}
mkdir -p "$data"
if [[ ! -s $list && -z ${LIST:-} ]]; then
  log "generating the 5M list"
  "$bin/gen_domains" --domains 5000000 --queries 1000000 --out-list "$list" --out-queries "$data/queries-1m.txt"
fi
log "preparing data in $tmp"
# LIST2: every 10th name replaced by a new one (500k out, 500k in: a full index rebuild).
# gen_domains never makes a name starting with "zz9-", so the new names are new.
awk 'NR % 10 == 0 {print "zz9-" $0; next} {print}' "$list" > "$tmp/list2.txt"
# Blocked queries come from names in both lists (never a 10th line).
lines=$(wc -l < "$list")
awk -v p="$(awk -v n="$lines" 'BEGIN {p = 100000 / (0.9 * n) * 1.02; print (p > 1 ? 1 : p)}')" \
  'BEGIN {srand(42)} NR % 10 != 0 && n < 100000 && rand() < p {print; n++}' "$list" |
  awk 'BEGIN {srand(7)} {r = rand(); if (r < 0.2) printf "www."; else if (r < 0.3) printf "m."; print}' > "$tmp/blocked.txt"
awk 'BEGIN {for (i = 0; i < 100000; i++) printf "a%d.bench.test\n", i % 1000}' > "$tmp/allowed.txt"
cat "$tmp/blocked.txt" "$tmp/allowed.txt" | awk 'BEGIN {srand(11)} {printf "%.9f\t%s A\n", rand(), $0}' |
  sort -k1,1 | cut -f2 > "$tmp/queries.txt"
probe_blocked=$(sed -n 1p "$list")            # in both lists
probe_new="zz9-$(sed -n 10p "$list")"         # only in LIST2
probe_allowed=a7.bench.test
# Unbound: the list as local-zones, the allowed names as local-data.
awk '{printf "local-zone: \"%s.\" always_nxdomain\n", $0}' "$list" > "$tmp/zones-a.conf"
awk '{printf "local-zone: \"%s.\" always_nxdomain\n", $0}' "$tmp/list2.txt" > "$tmp/zones-b.conf"
ln -sfn "$tmp/zones-a.conf" "$tmp/zones-current.conf"
awk 'BEGIN {for (i = 0; i < 1000; i++) printf "local-data: \"a%d.bench.test. 3600 IN A 10.53.%d.%d\"\n", i, int(i / 256), i % 256}' > "$tmp/allowed.conf"

unbound_conf() {  # name, port, threads, with_list (0/1), control port (or "")
  local dir=$tmp/$1
  mkdir -p "$dir"
  {
    echo "server:"
    echo "  interface: 127.0.0.1"
    echo "  port: $2"
    echo "  so-reuseport: yes"
    echo "  num-threads: $3"
    echo "  do-daemonize: no"
    echo "  username: \"\""
    echo "  chroot: \"\""
    echo "  directory: \"$dir\""
    echo "  pidfile: \"\""
    echo "  logfile: \"\""
    echo "  use-syslog: no"
    echo "  verbosity: 1"
    echo "  do-ip6: no"
    echo "  access-control: 127.0.0.0/8 allow"
    echo "  local-zone: \".\" refuse"
    echo "  local-zone: \"bench.test.\" static"
    echo "  include: \"$tmp/allowed.conf\""
    [[ $4 == 1 ]] && echo "  include: \"$tmp/zones-current.conf\""
    if [[ -n $5 ]]; then
      echo "remote-control:"
      echo "  control-enable: yes"
      echo "  control-interface: 127.0.0.1"
      echo "  control-port: $5"
      echo "  control-use-cert: no"
    fi
  } > "$dir/unbound.conf"
  echo "$dir/unbound.conf"
}

# start NAME LOGFILE COMMAND...: runs it in the background, records the PID
start_server() {
  local name=$1 logf=$2
  shift 2
  "$@" > "$logf" 2>&1 &
  pid[$name]=$!
}

# first_answer NAME PORT QNAME RCODE SINCE TIMEOUT: seconds from SINCE to the first answer
first_answer() {
  local t
  if ! t=$("$bin/dns_probe" wait --port "$2" --name "$3" --rcode "$4" --since-ns "$5" --timeout-s "$6"); then
    log "$1 never answered $3 with rcode $4; its log:"
    tail -20 "$tmp/$1.log" >&2 || true
    exit 1
  fi
  echo "$t"
}

summary=$tmp/summary.md
: > "$summary"
out() { echo "$*" | tee -a "$summary"; }

# ---------------------------------------------------------------- start
log "starting the upstream Unbound (local-data only) on ${port[upstream]}"
conf=$(unbound_conf upstream "${port[upstream]}" 1 0 "")
t0=$(now_ns); start_server upstream "$tmp/upstream.log" unbound -d -c "$conf"
first_answer upstream "${port[upstream]}" "$probe_allowed" 0 "$t0" 30 > /dev/null

log "starting udp_responder on ${port[responder]}"
t0=$(now_ns); start_server responder "$tmp/responder.log" "$bin/udp_responder" --port "${port[responder]}" --threads 2
start_responder=$(first_answer responder "${port[responder]}" "$probe_blocked" 3 "$t0" 30)

log "starting Unbound without the list on ${port[unbound_nolist]}"
conf=$(unbound_conf unbound_nolist "${port[unbound_nolist]}" 2 0 "${cport[unbound_nolist]}")
t0=$(now_ns); start_server unbound_nolist "$tmp/unbound_nolist.log" unbound -d -c "$conf"
start_unbound_nolist=$(first_answer unbound_nolist "${port[unbound_nolist]}" "$probe_allowed" 0 "$t0" 60)

log "saringctl init + import of the 5M list"
db=$tmp/saring/db
mkdir -p "$tmp/saring"
rules_arg=(--rules "")
[[ $BUNDLED_RULES == 1 ]] && rules_arg=(--rules "$root/rules")
(cd "$root" && timeout 120 "$bin/saringctl" --db "$db" "${rules_arg[@]}" init) >&2
t_import0=$(now_ns)
/usr/bin/time -f "%e s %M KiB" -o "$tmp/import.time" \
  timeout 300 "$bin/saringctl" --db "$db" import --source trustpositif "$list" > "$tmp/import.out"
import_secs=$(awk '{print $1}' "$tmp/import.time")
import_hwm=$(awk '{printf "%.0f", $3/1024}' "$tmp/import.time")
log "import: $(head -c 300 "$tmp/import.out" | tr '\n' ' ') ($import_secs s, saringctl peak RSS $import_hwm MiB)"
cat > "$tmp/saring/saringd.toml" <<EOF
[server]
dns_listen = ["127.0.0.1:${port[saring]}"]
workers = 2
db = "$db"
rules = ""
allow_clients = ["127.0.0.0/8"]

[upstream]
servers = ["127.0.0.1:${port[upstream]}"]

[cache]
size_mb = 64

[log]
level = "info"
EOF
saring_cmd=("$bin/saringd" --config "$tmp/saring/saringd.toml" --upstream "127.0.0.1:${port[upstream]}")
saring_starts=() saring_ready=()
for i in 1 2 3; do
  log "starting saringd on ${port[saring]} ($i of 3)"
  t0=$(now_ns); start_server saring "$tmp/saring.log" "${saring_cmd[@]}"
  saring_starts+=("$(first_answer saring "${port[saring]}" "$probe_blocked" 3 "$t0" 60)")
  for _ in $(seq 100); do grep -q ' ready in ' "$tmp/saring.log" && break; sleep 0.05; done
  saring_ready+=("$(sed -n 's/.* ready in \([0-9.]*\) s.*/\1/p' "$tmp/saring.log" | head -1)")
  if [[ $i -lt 3 ]]; then
    stop_pid "${pid[saring]}"
    cp "$tmp/saring.log" "$tmp/saring-start$i.log"
  fi
done
start_saring=$(printf '%s\n' "${saring_starts[@]}" | median)
ready_saring=$(printf '%s\n' "${saring_ready[@]}" | median)
grep ' ready in ' "$tmp/saring.log" >&2

log "starting Unbound with the 5M list on ${port[unbound_list]} (~35 s, ~2.1 GiB)"
conf=$(unbound_conf unbound_list "${port[unbound_list]}" 2 1 "${cport[unbound_list]}")
t0=$(now_ns); start_server unbound_list "$tmp/unbound_list.log" unbound -d -c "$conf"
start_unbound_list=$(first_answer unbound_list "${port[unbound_list]}" "$probe_blocked" 3 "$t0" 240)

# ---------------------------------------------------------------- sanity
check() {  # server qname expected-status
  local st
  st=$(dig @127.0.0.1 -p "${port[$1]}" "$2" A +tries=2 +time=2 | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')
  if [[ $st != "$3" ]]; then echo "run.sh: $1 answered $2 with '$st', expected $3" >&2; exit 1; fi
}
for s in saring unbound_list; do
  check "$s" "$probe_blocked" NXDOMAIN
  check "$s" "www.$probe_blocked" NXDOMAIN
  check "$s" "$probe_allowed" NOERROR
  check "$s" "$probe_new" REFUSED
done
check unbound_nolist "$probe_blocked" REFUSED
check unbound_nolist "$probe_allowed" NOERROR
[[ $(dig @127.0.0.1 -p "${port[saring]}" "$probe_allowed" A +short) == 10.53.0.7 ]] ||
  { echo "run.sh: saringd gave a wrong answer for $probe_allowed" >&2; exit 1; }
log "all servers answer as expected"

# ---------------------------------------------------------------- throughput
dnsperf_run() {  # server seconds outfile [extra args]
  local s=$1 secs=$2 f=$3
  shift 3
  /usr/bin/time -f "%U %S" -o "$f.cpu" timeout $((secs + 30)) dnsperf -s 127.0.0.1 -p "${port[$s]}" -d "$tmp/queries.txt" -l "$secs" -c 4 -Q 400000 "$@" > "$f" 2>&1
}
dp_field() {  # file field -> value
  case $2 in
    qps) awk '/Queries per second:/ {print $4}' "$1" ;;
    sent) awk '/Queries sent:/ {print $3}' "$1" ;;
    completed) awk '/Queries completed:/ {print $3}' "$1" ;;
    lost) awk '/Queries lost:/ {print $3}' "$1" ;;
    avg) awk '/Average Latency/ {print $4 * 1e6}' "$1" ;;
    sd) awk '/Latency StdDev/ {print $4 * 1e6}' "$1" ;;
  esac
}
mkdir -p "$tmp/runs"
for s in "${servers[@]}"; do
  log "warm-up: $s"
  dnsperf_run "$s" "$WARMUP" "$tmp/runs/warmup-$s.txt"
done
results=$tmp/rounds.tsv
echo -e "round\tserver\tqps\tlost\tavg_us\tsd_us\tcpu_us_per_q\tp50_us\tp99_us\tp999_us\tsample_lost\tserver_cores\tdnsperf_cores\tother_cores\tsteal_cores\tsock_drops" > "$results"
for r in $(seq "$ROUNDS"); do
  order=("${servers[@]}")
  if (( r % 2 == 0 )); then order=(); for ((i = ${#servers[@]} - 1; i >= 0; i--)); do order+=("${servers[$i]}"); done; fi
  for s in "${order[@]}"; do
    f=$tmp/runs/r$r-$s.txt
    c0=$(cpu_ticks "${pid[$s]}") b0=$(busy_ticks) st0=$(steal_ticks) d0=$(sock_drops "${port[$s]}")
    dnsperf_run "$s" "$DURATION" "$f"
    c1=$(cpu_ticks "${pid[$s]}") b1=$(busy_ticks) st1=$(steal_ticks) d1=$(sock_drops "${port[$s]}")
    # Cores used during the run: the server, dnsperf, everything else (other sessions, kernel
    # threads), and stolen by the hypervisor.
    cores=$(awk -v c0="$c0" -v c1="$c1" -v b0="$b0" -v b1="$b1" -v s0="$st0" -v s1="$st1" -v hz="$hz" \
      -v secs="$(awk '/Run time/ {print $4}' "$f")" -v dp="$(awk '{print $1 + $2}' "$f.cpu")" \
      'BEGIN {srv = (c1 - c0) / hz; all = (b1 - b0) / hz
              o = (all - srv - dp) / secs; if (o < 0) o = 0  # the two accountings differ by ~0.01-0.04 cores
              printf "%.2f\t%.2f\t%.2f\t%.2f", srv / secs, dp / secs, o, (s1 - s0) / hz / secs}')
    lat=$("$bin/dns_probe" stream --port "${port[$s]}" --queries "$tmp/queries.txt" --rate "$LAT_RATE" --duration "$LAT_SECONDS")
    echo "$lat" > "$tmp/runs/r$r-$s-latency.txt"
    cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v n="$(dp_field "$f" completed)" 'BEGIN {printf "%.2f", (b - a) / hz * 1e6 / n}')
    row="$r\t$s\t$(dp_field "$f" qps)\t$(dp_field "$f" lost)\t$(dp_field "$f" avg)\t$(dp_field "$f" sd)\t$cpu"
    row="$row\t$(echo "$lat" | kv p50_us)\t$(echo "$lat" | kv p99_us)\t$(echo "$lat" | kv p999_us)\t$(echo "$lat" | kv lost)\t$cores\t$((d1 - d0))"
    echo -e "$row" >> "$results"
    log "round $r $s: $(dp_field "$f" qps) qps, lost $(dp_field "$f" lost), p50/p99 $(echo "$lat" | kv p50_us)/$(echo "$lat" | kv p99_us) us, cores server/dnsperf/other/steal $(echo "$cores" | tr '\t' /)"
  done
done
declare -A hwm=() rss=()
for s in "${servers[@]}" upstream; do hwm[$s]=$(vmhwm "${pid[$s]}"); rss[$s]=$(vmrss "${pid[$s]}"); done

col() { awk -F'\t' -v s="$1" -v c="$2" 'NR > 1 && $2 == s {print $c}' "$results" | median; }
declare -A qps=()
for s in "${servers[@]}"; do qps[$s]=$(col "$s" 3); done
ratio_rounds() {  # per-round saring/other: "min..max"
  awk -F'\t' -v o="$1" 'NR > 1 {q[$1 "," $2] = $3; r[$1] = 1}
    END {for (k in r) {x = q[k ",saring"] / q[k "," o]; if (min == "" || x < min) min = x; if (x > max) max = x}
         printf "%.2f..%.2f", min, max}' "$results"
}

# ---------------------------------------------------------------- reload under load
# reload_test NAME ACTION-FUNCTION NEW-NAME-OR-EMPTY
reload_test() {
  local s=$1 action=$2 newname=$3 d=$tmp/runs
  log "reload under load: $s"
  timeout 400 dnsperf -s 127.0.0.1 -p "${port[$s]}" -d "$tmp/queries.txt" -l 300 -c 4 -q 2000 \
    -Q "$RELOAD_RATE" -t 1 -S 1 > "$d/reload-$s-dnsperf.txt" 2>&1 &
  local dp=$!
  helpers+=("$dp")
  timeout 400 "$bin/dns_probe" stream --port "${port[$s]}" --queries "$tmp/queries.txt" --rate 2000 \
    --duration 300 --timeout-ms 1000 > "$d/reload-$s-probe.txt" &
  local pr=$!
  helpers+=("$pr")
  sleep 3
  local t0 wp="" dr0 ur0
  dr0=$(sock_drops "${port[$s]}") ur0=$(rcvbuf_errors)
  t0=$(now_ns)
  if [[ -n $newname ]]; then
    "$bin/dns_probe" wait --port "${port[$s]}" --name "$newname" --rcode 3 --since-ns "$t0" \
      --timeout-s 300 > "$d/reload-$s-newname.txt" &
    wp=$!
    helpers+=("$wp")
  fi
  local a0 a1
  a0=$(now_ns)
  "$action" > "$d/reload-$s-action.txt" 2>&1 || log "$s: reload command failed: $(cat "$d/reload-$s-action.txt")"
  a1=$(now_ns)
  echo "$(( (a1 - a0) / 1000000 ))" > "$d/reload-$s-action-ms.txt"
  [[ -n $wp ]] && { wait "$wp" || log "$s: $newname never became NXDOMAIN"; }
  sleep 5
  kill -INT "$dp" "$pr" 2>/dev/null || true
  wait "$dp" || true
  wait "$pr" || true
  helpers=()
  echo "$(( $(sock_drops "${port[$s]}") - dr0 )) $(( $(rcvbuf_errors) - ur0 ))" > "$d/reload-$s-drops.txt"
  echo "$t0" > "$d/reload-$s-t0.txt"
}
reload_saring() { timeout 600 "$bin/saringctl" --db "$db" import --source trustpositif --force "$tmp/list2.txt"; }
reload_unbound_list() {
  ln -sfn "$tmp/zones-b.conf" "$tmp/zones-current.conf"
  timeout 60 unbound-control -c "$tmp/unbound_list/unbound.conf" reload
}
reload_unbound_nolist() { timeout 60 unbound-control -c "$tmp/unbound_nolist/unbound.conf" reload; }

hwm_before_reload_saring=${hwm[saring]}
reload_test saring reload_saring "$probe_new"
hwm_after_reload_saring=$(vmhwm "${pid[saring]}")
sleep 2
rss_after_reload_saring=$(vmrss "${pid[saring]}")
reload_test unbound_list reload_unbound_list "$probe_new"
hwm_after_reload_unbound_list=$(vmhwm "${pid[unbound_list]}")
reload_test unbound_nolist reload_unbound_nolist ""
check saring "$probe_new" NXDOMAIN
check unbound_list "$probe_new" NXDOMAIN

# ---------------------------------------------------------------- report
reload_row() {  # server
  local s=$1 d=$tmp/runs p
  p=$(cat "$d/reload-$s-probe.txt")
  local t0 gs ge newt
  t0=$(cat "$d/reload-$s-t0.txt")
  gs=$(echo "$p" | kv gap_start_ns)
  ge=$(echo "$p" | kv gap_end_ns)
  newt=$(cat "$d/reload-$s-newname.txt" 2>/dev/null || echo "–")
  local gap_at="–"
  [[ $gs != 0 ]] && gap_at=$(awk -v a="$gs" -v b="$ge" -v t="$t0" 'BEGIN {printf "%.1f..%.1f s", (a - t) / 1e9, (b - t) / 1e9}')
  local zero_secs drops
  zero_secs=$(awk -v r="$RELOAD_RATE" '/^[0-9]+\.[0-9]+: / {if ($2 < r / 2) n++} END {print n + 0}' "$d/reload-$s-dnsperf.txt")
  drops=$(awk '{printf "%s / %s", $1, $2}' "$d/reload-$s-drops.txt")
  printf '| %s | %s s | %s s | %s | %s / %s | %s | %s / %s (%s) | %s ms, at %s | %s | %s |\n' \
    "$s" "$(awk '{printf "%.1f", $1 / 1000}' "$d/reload-$s-action-ms.txt")" "$newt" \
    "$(dp_field "$d/reload-$s-dnsperf.txt" qps | awk '{printf "%.0f", $1}')" \
    "$(dp_field "$d/reload-$s-dnsperf.txt" lost)" "$(dp_field "$d/reload-$s-dnsperf.txt" sent)" "$zero_secs" \
    "$(echo "$p" | kv lost)" "$(echo "$p" | kv sent)" "$(echo "$p" | kv unanswered_runs) runs" \
    "$(echo "$p" | kv gap_ms)" "$gap_at" \
    "$(echo "$p" | kv p99_us)" "$drops"
}

machine="$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(free -g | awk '/^Mem:/ {print $2}') GiB, kernel $(uname -r)"
versions="$(unbound -V 2>&1 | sed -n '1s/Version/unbound/p'), dnsperf $(dnsperf -h 2>&1 | awk '/^Version/ {print $2}'), saring $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet HEAD -- src include 2>/dev/null || echo ' + uncommitted src changes')"
f2() { awk -v x="$1" 'BEGIN {printf "%.2f", x}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

out ""
out "### Run $(date -u +'%Y-%m-%d %H:%M UTC')"
out ""
out "Machine: $machine; load average before the run: $(cut -d' ' -f1-3 /proc/loadavg). $versions."
out "Settings: ROUNDS=$ROUNDS DURATION=${DURATION}s WARMUP=${WARMUP}s LAT_RATE=$LAT_RATE LAT_SECONDS=$LAT_SECONDS RELOAD_RATE=$RELOAD_RATE BUNDLED_RULES=$BUNDLED_RULES."
out "saringctl import of the list ($(wc -l < "$list") names) before the first start: $import_secs s, saringctl peak RSS $import_hwm MiB."
out ""
out "| server | QPS (median of $ROUNDS) | QPS per round | lost | dnsperf avg ± sd (µs) | server CPU µs/answer | cores: server / dnsperf / other / steal | p50 / p99 / p99.9 at $LAT_RATE qps (µs) | peak RSS (VmHWM) | first NXDOMAIN after start |"
out "|---|---:|---|---:|---|---:|---|---|---:|---|"
for s in "${servers[@]}"; do
  per_round=$(awk -F'\t' -v s="$s" 'NR > 1 && $2 == s {printf "%s%.0f", (n++ ? ", " : ""), $3}' "$results")
  lost=$(awk -F'\t' -v s="$s" 'NR > 1 && $2 == s {n += $4; d += $16} END {print n + 0 " (socket drops " d + 0 ")"}' "$results")
  case $s in
    saring) st="$start_saring s (median of 3: ${saring_starts[*]}); own log: ready in $ready_saring s" ;;
    unbound_list) st="$start_unbound_list s" ;;
    unbound_nolist) st="$start_unbound_nolist s (first answer)" ;;
    responder) st="$start_responder s" ;;
  esac
  out "| $s | $(printf '%.0f' "${qps[$s]}") | $per_round | $lost | $(f2 "$(col "$s" 5)") ± $(f2 "$(col "$s" 6)") | $(col "$s" 7) | $(col "$s" 12) / $(col "$s" 13) / $(col "$s" 14) / $(col "$s" 15) | $(col "$s" 8) / $(col "$s" 9) / $(col "$s" 10) | ${hwm[$s]} MiB | $st |"
done
out ""
out "Upstream Unbound of saringd (1 thread, local-data only): VmHWM ${hwm[upstream]} MiB."
out ""
r_list=$(ratio "${qps[saring]}" "${qps[unbound_list]}")
r_nolist=$(ratio "${qps[saring]}" "${qps[unbound_nolist]}")
r_resp=$(ratio "${qps[saring]}" "${qps[responder]}")
out "Ratios of the medians (per-round range in brackets): saring / unbound_list **$r_list** ($(ratio_rounds unbound_list)); saring / unbound_nolist **$r_nolist** ($(ratio_rounds unbound_nolist)); saring / responder **$r_resp** ($(ratio_rounds responder)); unbound_list / unbound_nolist $(ratio "${qps[unbound_list]}" "${qps[unbound_nolist]}")."
out ""
out "Full reload under load (dnsperf -Q $RELOAD_RATE -q 2000 -t 1 -S 1; dns_probe stream at 2000 qps open loop, 1 s timeout):"
out ""
out "| server | reload command returned after | new list served after | dnsperf QPS | dnsperf lost / sent | dnsperf seconds under half rate | probe lost / sent (unanswered runs) | longest unanswered stretch (from the reload command) | probe p99 (µs) | drops: server sockets / all UDP rcvbuf |"
out "|---|---:|---:|---:|---|---:|---|---|---:|---|"
out "$(reload_row saring)"
out "$(reload_row unbound_list)"
out "$(reload_row unbound_nolist)"
out ""
out "Peak RSS with the reload: saringd $hwm_before_reload_saring MiB before, $hwm_after_reload_saring MiB after (VmRSS ${rss[saring]} MiB before, $rss_after_reload_saring MiB 2 s after the import); unbound_list ${hwm[unbound_list]} MiB before, $hwm_after_reload_unbound_list MiB after."
out ""
saring_lost_dp=$(dp_field "$tmp/runs/reload-saring-dnsperf.txt" lost)
saring_lost_pr=$(kv lost < "$tmp/runs/reload-saring-probe.txt")
verdict() { if awk -v a="$1" -v b="$2" "BEGIN {exit !(a $3 b)}"; then echo met; else echo "**missed**"; fi; }
out "Against the targets:"
out ""
out "- saring QPS ≥ 1.3× Unbound with the list: $r_list× — $(verdict "$r_list" 1.3 '>=')$(awk -v r="$r_list" 'BEGIN {if (r < 1.3) printf " (%.0f%% short of 1.3×)", (1.3 - r) / 1.3 * 100}')"
out "- peak RSS ≤ 200 MiB: ${hwm[saring]} MiB serving, $hwm_after_reload_saring MiB including the reload — $(verdict "$hwm_after_reload_saring" 200 '<=')"
out "- ready ≤ 2 s after start: first NXDOMAIN $start_saring s after exec (own log: $ready_saring s) — $(verdict "$start_saring" 2 '<=')"
out "- zero unanswered queries during reload: dnsperf lost $saring_lost_dp, probe lost $saring_lost_pr — $(verdict "$((saring_lost_dp + saring_lost_pr))" 0 '==')"
out "- saring QPS ≥ 0.8× the UDP responder: $r_resp× — $(verdict "$r_resp" 0.8 '>=')$(awk -v r="$r_resp" 'BEGIN {if (r < 0.8) printf " (%.0f%% short of 0.8×)", (0.8 - r) / 0.8 * 100}')"

log "saringd log (control and counters):"
stop_pid "${pid[saring]}"
grep -E 'ready in|control:|stopped|warn|error' "$tmp/saring.log" | tail -n 8 >&2 || true
mkdir -p "$OUT_DIR"
cp -r "$tmp/runs" "$tmp/rounds.tsv" "$tmp/summary.md" "$tmp"/*.log "$tmp/import.out" "$OUT_DIR/" 2>/dev/null || true
log "raw outputs in $OUT_DIR"
