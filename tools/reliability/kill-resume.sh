#!/usr/bin/env bash
# Long-run reliability check "kill-resume" (see RELIABILITY.md). Builds into dist/ (as npm test does) and runs the harness.
#   tools/reliability/kill-resume.sh [args...]   e.g. 20 60 1   (kills, steps, seed)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${STREAMNEST_OUTDIR:-dist}
[ "${SKIP_BUILD:-}" = 1 ] || npx tsc -p tsconfig.json --outDir "$OUT" || echo "tsc reported errors (continuing with what it emitted)" >&2
exec node "$OUT/test/reliability/harness/cli.js" kill-resume "$@"
