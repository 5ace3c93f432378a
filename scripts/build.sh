#!/usr/bin/env bash
# Configures (once) and builds saring into build/; binaries land in build/bin/.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/build.ninja ] || cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
ninja -C build -j"$(nproc)"
