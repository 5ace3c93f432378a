#!/usr/bin/env bash
# The README's run command: installs what is missing, builds, and runs saringd
# with the bundled configuration (deploy/saringd.toml): DNS on 127.0.0.1:5353,
# forwarding to the machine's resolvers, rules in var/db
# (created from rules/ on the first start). Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
mkdir -p var
echo "try: dig @127.0.0.1 -p 5353 slotgacor88.xyz   (blocked)   or   dig @127.0.0.1 -p 5353 debian.org"
echo "     curl -x http://127.0.0.1:3128 http://slotgacor88.xyz/   (the block page)"
exec build/bin/saringd --config deploy/saringd.toml
