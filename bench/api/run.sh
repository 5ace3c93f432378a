#!/usr/bin/env bash
# bench/api/run.sh: push-to-enforced latency of the admin API, over loopback only.
#
#   bench/api/run.sh            (from anywhere; builds nothing; about 1-2 minutes with the 5M list)
#
# Needs: unbound, dnsperf, dig (Debian packages unbound, dnsperf, bind9-dnsutils), and in
# $BUILD_DIR/bin (default build/bin): saringd, saringctl, push_latency (and gen_domains when
# the list is missing)
#   ninja -C build saringd saringctl push_latency gen_domains
#
# What it does:
#   1. a temporary store: `saringctl init` (no bundled rules), then `saringctl import` of the
#      synthetic list (LIST, default $BUILD_DIR/bench-data/domains-5m.txt: 5M names from
#      gen_domains; NAMES=N takes its first N lines) as source trustpositif, before saringd starts;
#   2. an upstream Unbound that answers every name under push.test (redirect zone) and refuses
#      everything else; saringd (2 DNS workers) on the store, forwarding to it, admin API on;
#   3. an editor token from `saringctl tokens create` (through saringd's control socket);
#   4. push_latency --count COUNT (200): for each push, the name is queried once (NOERROR,
#      now cached), then POST /v1/rules {"kind": "domain", "action": "block", ...} goes out on a
#      kept-alive connection while UDP queries for the name go to saringd back to back; times
#      to the 200 and to the first NXDOMAIN with EDE 15 (Blocked);
#   5. the same again while dnsperf loads saringd's DNS with LOAD_QPS (20000) queries/s of the
#      query stream gen_domains made (listed names, subdomains, near misses, ordinary names:
#      the last two are REFUSED by the upstream), unless LOAD_QPS=0.
#
# Knobs (environment): BUILD_DIR COUNT=200 LOAD_QPS=20000 LIST QUERIES NAMES LOG_LEVEL=info
# (debug: saringd logs each admin request with its server-side time) BASE_PORT=25400 (uses
# BASE_PORT+1..+3) KEEP_TMP=0 MAX_SECONDS=900. Every process it starts is ended by PID on exit;
# temporary files live in /tmp/saring-apibench.*
set -euo pipefail

if [[ -z ${SARING_API_BENCH_INNER:-} ]]; then  # the whole run is bounded in time
  export SARING_API_BENCH_INNER=1
  exec timeout --foreground --kill-after=30 "${MAX_SECONDS:-900}" "$0" "$@"
fi

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
bin=$build/bin
COUNT=${COUNT:-200}
LOAD_QPS=${LOAD_QPS:-20000}
BASE_PORT=${BASE_PORT:-25400}
dns_port=$((BASE_PORT + 1)) api_port=$((BASE_PORT + 2)) up_port=$((BASE_PORT + 3))

for tool in unbound dnsperf dig; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing (apt-get install unbound dnsperf bind9-dnsutils)" >&2; exit 1; }
done
for tool in saringd saringctl push_latency; do
  [[ -x $bin/$tool ]] || { echo "run.sh: $bin/$tool is missing; ninja -C $build $tool" >&2; exit 1; }
done
for p in $dns_port $api_port $up_port; do
  if [[ -n $(ss -Hlnu "sport = :$p") || -n $(ss -Hlnt "sport = :$p") ]]; then
    echo "run.sh: port $p is in use; set BASE_PORT" >&2
    exit 1
  fi
done

tmp=$(mktemp -d /tmp/saring-apibench.XXXXXX)
source "$root/bench/lib.sh"  # pid, helpers, stop_pid, cleanup (trap), log

# ---------------------------------------------------------------- data
data=$build/bench-data
list=${LIST:-$data/domains-5m.txt}
queries=${QUERIES:-$data/queries-1m.txt}
if [[ ! -s $list && -z ${LIST:-} ]]; then
  [[ -x $bin/gen_domains ]] || { echo "run.sh: $list is missing and so is $bin/gen_domains" >&2; exit 1; }
  mkdir -p "$data"
  log "generating the 5M list"
  "$bin/gen_domains" --domains 5000000 --queries 1000000 --out-list "$list" --out-queries "$queries"
fi
if [[ -n ${NAMES:-} ]]; then
  head -n "$NAMES" "$list" > "$tmp/list.txt"
  list=$tmp/list.txt
fi
names=$(wc -l < "$list")

# ---------------------------------------------------------------- servers
mkdir -p "$tmp/unbound"
cat > "$tmp/unbound/unbound.conf" <<EOF
server:
  interface: 127.0.0.1
  port: $up_port
  num-threads: 1
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$tmp/unbound"
  pidfile: ""
  logfile: ""
  use-syslog: no
  verbosity: 1
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  local-zone: "." refuse
  local-zone: "push.test." redirect
  local-data: "push.test. 3600 IN A 192.0.2.80"
EOF
unbound -d -c "$tmp/unbound/unbound.conf" > "$tmp/unbound.log" 2>&1 &
pid[unbound]=$!

db=$tmp/db
log "saringctl init + import of $names names"
"$bin/saringctl" --db "$db" --rules "" init >&2
/usr/bin/time -f "%e s" -o "$tmp/import.time" \
  "$bin/saringctl" --db "$db" import --source trustpositif "$list" > "$tmp/import.out"
log "import: $(cat "$tmp/import.time")"
cat > "$tmp/saringd.toml" <<EOF
[server]
dns_listen = ["127.0.0.1:$dns_port"]
workers = 2
db = "$db"
rules = ""

[upstream]
servers = ["127.0.0.1:$up_port"]

[admin]
listen = "127.0.0.1:$api_port"

[feeds]
schedule = false

[log]
level = "${LOG_LEVEL:-info}"
EOF
"$bin/saringd" --config "$tmp/saringd.toml" > "$tmp/saringd.log" 2>&1 &
saringd_pid=$!
pid[saringd]=$saringd_pid
for _ in $(seq 300); do grep -q ' ready in ' "$tmp/saringd.log" && break; sleep 0.1; done
grep ' ready in ' "$tmp/saringd.log" >&2 || { cat "$tmp/saringd.log" >&2; exit 1; }
for _ in $(seq 100); do
  [[ $(dig @127.0.0.1 -p "$up_port" x.push.test A +short +tries=1 +time=1) == 192.0.2.80 ]] && break
  sleep 0.1
done
listed=$(sed -n 1p "$list")
st=$(dig @127.0.0.1 -p "$dns_port" "$listed" A +tries=1 +time=2 | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')
[[ $st == NXDOMAIN ]] || { echo "run.sh: $listed answered $st, expected NXDOMAIN" >&2; exit 1; }
[[ $(dig @127.0.0.1 -p "$dns_port" a.push.test A +short +tries=1 +time=2) == 192.0.2.80 ]] ||
  { echo "run.sh: a.push.test does not resolve through saringd" >&2; exit 1; }
token=$("$bin/saringctl" --db "$db" tokens create --role editor --name push-bench 2>/dev/null)

machine="$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), kernel $(uname -r)"
echo "### $(date -u +'%Y-%m-%d %H:%M UTC'): $names listed names, $machine, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "saringd: $(sed -n 's/.*\(ready in [0-9.]* s\).*/\1/p' "$tmp/saringd.log" | head -1), VmRSS $(awk '/^VmRSS/ {printf "%.0f MiB", $2/1024}' /proc/$saringd_pid/status)"
echo
echo "#### idle (no other DNS traffic)"
"$bin/push_latency" --api-port "$api_port" --dns-port "$dns_port" --token "$token" --count "$COUNT" \
  --prefix idle --csv "$tmp/idle.csv"

if [[ $LOAD_QPS != 0 ]]; then
  [[ -s $queries ]] || { echo "run.sh: $queries is missing (gen_domains --out-queries)" >&2; exit 1; }
  awk '{print $0 " A"}' "$queries" > "$tmp/queries.txt"
  dnsperf -s 127.0.0.1 -p "$dns_port" -d "$tmp/queries.txt" -l 600 -c 4 -Q "$LOAD_QPS" -t 2 > "$tmp/dnsperf.txt" 2>&1 &
  dp=$!
  helpers+=("$dp")
  sleep 3
  echo
  echo "#### under load: dnsperf -Q $LOAD_QPS -c 4 against the same saringd"
  "$bin/push_latency" --api-port "$api_port" --dns-port "$dns_port" --token "$token" --count "$COUNT" \
    --prefix load --csv "$tmp/load.csv"
  kill -INT "$dp" 2>/dev/null || true
  wait "$dp" || true
  echo "dnsperf during it: $(awk '/Queries sent:/ {s=$3} /Queries lost:/ {l=$3} /Queries per second:/ {q=$4} END {printf "%s sent, %s lost, %.0f qps", s, l, q}' "$tmp/dnsperf.txt")"
fi
echo "saringd after: VmRSS $(awk '/^VmRSS/ {printf "%.0f MiB", $2/1024}' /proc/$saringd_pid/status), $(grep -c 'rebuil' "$tmp/saringd.log" || true) log lines about rebuilds"
