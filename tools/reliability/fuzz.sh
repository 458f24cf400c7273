#!/usr/bin/env bash
# Long-run reliability check "fuzz" (see RELIABILITY.md). Builds into dist/ (as npm test does) and runs the harness.
#   tools/reliability/fuzz.sh [args...]   e.g. 5000 1   (inputs per parser, seed[, parsers])
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${STREAMNEST_OUTDIR:-dist}
[ "${SKIP_BUILD:-}" = 1 ] || npx tsc -p tsconfig.json --outDir "$OUT" || echo "tsc reported errors (continuing with what it emitted)" >&2
exec node "$OUT/test/reliability/harness/cli.js" fuzz "$@"
