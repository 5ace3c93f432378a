#!/usr/bin/env bash
# Runs the domain-matching benchmark (bench/match_bench.cc) on the synthetic national-size
# data: 5M listed names, 1M queries, generated once into $BUILD_DIR/bench-data/.
# Build first: ninja -C "$BUILD_DIR" match_bench gen_domains. Extra arguments go to
# match_bench (e.g. --benchmark_filter=lookup).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
data=$build/bench-data
for tool in gen_domains match_bench; do
  if [[ ! -x $build/bin/$tool ]]; then
    echo "run_match.sh: $build/bin/$tool is missing; build it first" >&2
    exit 1
  fi
done

mkdir -p "$data"
if [[ ! -s $data/domains-5m.txt || ! -s $data/queries-1m.txt ]]; then
  "$build/bin/gen_domains" --domains 5000000 --queries 1000000 \
    --out-list "$data/domains-5m.txt" --out-queries "$data/queries-1m.txt"
fi

# Gives malloc'ed memory, hence the absl baseline, transparent huge pages: with THP in
# "madvise" mode it otherwise loses about a third of its speed to TLB misses. The index
# gains nothing from them. GLIBC_TUNABLES=glibc.malloc.hugetlb=0 measures without.
export GLIBC_TUNABLES=${GLIBC_TUNABLES:-glibc.malloc.hugetlb=1}

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')," \
  "THP $(cat /sys/kernel/mm/transparent_hugepage/enabled), GLIBC_TUNABLES=$GLIBC_TUNABLES"
SARING_BENCH_LIST=$data/domains-5m.txt SARING_BENCH_QUERIES=$data/queries-1m.txt \
  "$build/bin/match_bench" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  "$@"
