#!/usr/bin/env bash
# The README's run command: installs what is missing, builds, creates a store
# with the bundled default rules in var/db, and shows what it blocks.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
db=var/db
mkdir -p var
[ -f "$db/CURRENT" ] || build/bin/saringctl --db "$db" init
build/bin/saringctl --db "$db" stats
echo
echo "Verdicts for a few names (saringctl --db $db check NAME...):"
build/bin/saringctl --db "$db" check www.google.com slotgacor88.xyz m.maxwin-303.site \
  dns.google kemkes.go.id "$(sed -n '/^[a-z0-9]/{p;q}' rules/sample-feed.txt)"
