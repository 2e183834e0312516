#!/usr/bin/env bash
# Long randomized runs, separate from the main suite (scripts/test.sh): the incremental
# property test with many more runs and longer chains. Knobs (environment):
#   SNAPDUMP_PROPERTY_RUNS     runs (default here 60)
#   SNAPDUMP_PROPERTY_BACKUPS  most backups per run (default here 8)
#   SNAPDUMP_PROPERTY_RESTORE_R  1 (default here): also apply every chain with the real restore -r (root)
#   SNAPDUMP_PROPERTY_SEED / SNAPDUMP_PROPERTY_PATH   replay a failure fast-check printed
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ]; then npm ci --no-audit --no-fund --loglevel=error; fi
npm run build --silent
export SNAPDUMP_PROPERTY_RUNS="${SNAPDUMP_PROPERTY_RUNS:-60}"
export SNAPDUMP_PROPERTY_BACKUPS="${SNAPDUMP_PROPERTY_BACKUPS:-8}"
export SNAPDUMP_PROPERTY_RESTORE_R="${SNAPDUMP_PROPERTY_RESTORE_R:-1}"
export PATH="$PATH:/usr/sbin:/sbin"
exec node --test dist/test/e2e/incremental-property.test.js
