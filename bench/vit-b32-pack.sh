#!/usr/bin/env bash
# Builds the real-size packs the real-pack bench measures (bench/real-pack.ts): randomly initialised
# full-size checkpoints of the real classes (bench/vit-b32-checkpoint.py: transformers CLIPModel,
# ViT-B/32; a timm-layout ViT style encoder with a projection head), imported with Parasol's own
# `parasol pack import` at fp32 and int8. Nothing is downloaded; the weights (~1.2 GB in all) stay
# in OUT, never in the repository.
#
#   bash bench/vit-b32-pack.sh [OUT]        OUT defaults to ${TMPDIR:-/tmp}/parasol-vit-b32
#   STYLE_ARCH=vit_base_patch16_224 bash bench/vit-b32-pack.sh /tmp/b32-b16style
#
# Writes OUT/vit-b32-fp32 and OUT/vit-b32-int8 (packs for PARASOL_PACK / --pack); a step whose
# output exists is skipped, so a rerun only finishes what is missing. Needs `npm run build` (dist/)
# and the importer's Python environment (PARASOL_PYTHON, else .venv-export beside models/).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-${TMPDIR:-/tmp}/parasol-vit-b32}"
STYLE_ARCH="${STYLE_ARCH:-vit_base_patch32_224}"
STYLE_DIM="${STYLE_DIM:-256}"
PRECISIONS="${PRECISIONS:-fp32 int8}"

if [[ -z "${PARASOL_PYTHON:-}" ]]; then
  if [[ -x "$ROOT/.venv-export/bin/python" ]]; then PARASOL_PYTHON="$ROOT/.venv-export/bin/python"; else PARASOL_PYTHON=python3; fi
fi
export PARASOL_PYTHON
CLI="$ROOT/dist/src/cli.js"
[[ -f "$CLI" ]] || { echo "vit-b32-pack: $CLI is missing; run npm run build first" >&2; exit 1; }

mkdir -p "$OUT"
if [[ ! -f "$OUT/hf-clip-vit-b32/config.json" || ! -f "$OUT/style-head.pt" ]]; then
  echo "vit-b32-pack: writing random full-size checkpoints into $OUT (style: $STYLE_ARCH, $STYLE_DIM-d)" >&2
  "$PARASOL_PYTHON" "$ROOT/bench/vit-b32-checkpoint.py" "$OUT" --style-arch "$STYLE_ARCH" --style-dim "$STYLE_DIM"
fi

for precision in $PRECISIONS; do
  pack="$OUT/vit-b32-$precision"
  if [[ ! -f "$pack/semantic_text.onnx" ]]; then
    echo "vit-b32-pack: importing the CLIP towers at $precision" >&2
    rm -rf "$pack"
    node "$CLI" pack import hf-clip "$OUT/hf-clip-vit-b32" --out "$pack" --precision "$precision" --name "vit-b32-$precision"
  fi
  if [[ ! -f "$pack/style_image.onnx" ]]; then
    echo "vit-b32-pack: importing the style tower ($STYLE_ARCH) at $precision" >&2
    node "$CLI" pack import style --arch "$STYLE_ARCH" --checkpoint "$OUT/style-vit.safetensors" --head "$OUT/style-head.pt" \
      --into "$pack" --precision "$precision"
  fi
  echo "$pack"
done
