#!/usr/bin/env bash
# Feed apply time for the synthetic 5M list, with `saringctl feeds sync` on a
# stopped store: into an empty store, again unchanged (the server answers
# If-Modified-Since with 304), again with a new date (200, nothing changes),
# then with 1M names replaced by 1M others (same size, so within the shrink
# limit), all through a local HTTP server (python3 -m http.server), and once
# from a file:// URL. Wall time and peak RSS of each run from /usr/bin/time.
# Builds nothing: build saringctl and gen_domains first.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
data=$build/bench-data
for tool in gen_domains saringctl; do
  [[ -x $build/bin/$tool ]] || { echo "feeds/run.sh: build $tool first" >&2; exit 1; }
done
mkdir -p "$data"
if [[ ! -s $data/domains-5m.txt || ! -s $data/queries-1m.txt ]]; then
  "$build/bin/gen_domains" --domains 5000000 --queries 1000000 \
    --out-list "$data/domains-5m.txt" --out-queries "$data/queries-1m.txt"
fi
work=$(mktemp -d /tmp/saring-feed-bench.XXXXXX)
server_pid=""
cleanup() { [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
mkdir "$work/www"
cp "$data/domains-5m.txt" "$work/www/list.txt"
# The changed list: the first 1M names replaced by 1M new ones.
{ tail -n +1000001 "$data/domains-5m.txt"; head -n 1000000 "$data/domains-5m.txt" | sed 's/^/x1-/'; } \
  > "$work/list-changed.txt"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$work/www" && exec python3 -m http.server --bind 127.0.0.1 "$port" >/dev/null 2>&1) &
server_pid=$!
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$port/list.txt" -r 0-0 && break; sleep 0.1; done

ctl=("$build/bin/saringctl" --db "$work/db")
ctl() { "${ctl[@]}" "$@"; }
timed() {  # label, then the command: prints wall seconds, peak RSS and the run's verdict
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" > "$work/out" 2>&1 || true
  read -r secs kb < <(tail -1 "$work/time")
  grep -q '"verdict"' "$work/out" || { echo "$label: failed:"; cat "$work/out"; }
  printf '%-44s %7.2f s  peak RSS %6.1f MiB  %s\n' "$label" "$secs" "$(awk "BEGIN{print $kb/1024}")" \
    "$(grep -o '"verdict":"[a-z-]*"' "$work/out" | head -1)"
}

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
ctl init >/dev/null
ctl feeds add --name tp --url "http://127.0.0.1:$port/list.txt" --every 6h >/dev/null
timed "http: 5M into an empty store" "${ctl[@]}" feeds sync tp --json
timed "http: unchanged (If-Modified-Since -> 304)" "${ctl[@]}" feeds sync tp --json
sleep 1.1; touch "$work/www/list.txt"
timed "http: same 5M again (200, nothing changes)" "${ctl[@]}" feeds sync tp --json
cp "$work/list-changed.txt" "$work/www/list.txt"
timed "http: 1M removed + 1M added" "${ctl[@]}" feeds sync tp --json
ctl feeds add --name tpfile --url "file://$data/domains-5m.txt" --every 6h >/dev/null
timed "file: 5M into a second source" "${ctl[@]}" feeds sync tpfile --json
ctl stats --json | grep -E '"(name|domains)"' | paste - - | head -5
