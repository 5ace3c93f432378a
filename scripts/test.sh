#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
# The integration tests start real servers and clients: unbound, dig, kdig, dnsperf,
# curl, openssl, headless Chromium, a WebSocket origin (python3-websockets), and
# nftables in network namespaces they create.
scripts/install-deps.sh unbound dnsutils knot-dnsutils dnsperf curl openssl iproute2 nftables chromium \
  python3-websockets
scripts/build.sh
cd build
ctest --output-on-failure -j"$(nproc)" --timeout 600
