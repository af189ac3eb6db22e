#!/usr/bin/env bash
# The real-size bench in one command: builds the random full-size ViT-B/32 packs if they are
# missing (bench/vit-b32-pack.sh), then runs bench/real-pack.ts on each precision.
#
#   npm run build && bash bench/vit-b32-bench.sh [cpu|cuda] [OUT]
#
# Reports: bench/results/real-pack-vit-b32-<precision>-<provider>-<date>.json. Extra options for
# real-pack.js go in REAL_PACK_ARGS (e.g. REAL_PACK_ARGS="--images 512 --duration 30").
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEVICE="${1:-cpu}"
OUT="${2:-${TMPDIR:-/tmp}/parasol-vit-b32}"
PRECISIONS="${PRECISIONS:-fp32 int8}"
export PRECISIONS

bash "$ROOT/bench/vit-b32-pack.sh" "$OUT" >/dev/null
for precision in $PRECISIONS; do
  # shellcheck disable=SC2086 # REAL_PACK_ARGS is a list of options
  node "$ROOT/dist/bench/real-pack.js" --pack "$OUT/vit-b32-$precision" --device "$DEVICE" ${REAL_PACK_ARGS:-}
done
