#!/usr/bin/env bash
# Long-run reliability check "soak" (see RELIABILITY.md). Builds into dist/ (as npm test does) and runs the harness.
#   tools/reliability/soak.sh [args...]   e.g. 2000 200   (steps, warm-up steps)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${STREAMNEST_OUTDIR:-dist}
[ "${SKIP_BUILD:-}" = 1 ] || npx tsc -p tsconfig.json --outDir "$OUT" || echo "tsc reported errors (continuing with what it emitted)" >&2
exec node "$OUT/test/reliability/harness/cli.js" soak "$@"
