#!/usr/bin/env bash
# Runs bench/engine_bench.cc on the synthetic 5M list (generated once into
# $BUILD_DIR/bench-data/, shared with run_match.sh): import time, cold start,
# single-rule change latency and memory during a full index rebuild.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
data=$build/bench-data
for tool in gen_domains engine_bench; do
  [[ -x $build/bin/$tool ]] || { echo "run_engine.sh: build $tool first" >&2; exit 1; }
done
mkdir -p "$data"
if [[ ! -s $data/domains-5m.txt || ! -s $data/queries-1m.txt ]]; then
  "$build/bin/gen_domains" --domains 5000000 --queries 1000000 \
    --out-list "$data/domains-5m.txt" --out-queries "$data/queries-1m.txt"
fi
db=$(mktemp -d /tmp/saring-engine-bench.XXXXXX)
trap 'rm -rf "$db"' EXIT
rmdir "$db"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
"$build/bin/engine_bench" --list "$data/domains-5m.txt" --db "$db" "$@"
