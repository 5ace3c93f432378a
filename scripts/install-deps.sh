#!/usr/bin/env bash
# Installs the Debian 12 packages saring builds and tests with, if missing.
# Hyperscan on x86-64; its API-compatible fork Vectorscan elsewhere (ARM).
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config ccache
  librocksdb-dev libboost-dev libtomlplusplus-dev libspdlog-dev libfmt-dev libcli11-dev
  nlohmann-json3-dev libidn2-dev libpsl-dev libcurl4-openssl-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev libabsl-dev zlib1g-dev
)
if [ "$(dpkg --print-architecture)" = amd64 ]; then
  packages+=(libhyperscan-dev)
else
  packages+=(libvectorscan-dev)
fi
packages+=("$@")  # extra packages a caller needs (test tools)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
