#!/usr/bin/env bash
# Reproduces the bundled `mini` model pack (models/mini) from a fresh Debian machine: the encoders, then the
# PARASOL generator (run_generator.sh).
# Stages are resumable: each training stage checkpoints to models/train/work/*.pt every 100-200 steps and
# resumes from there when re-run; finished stages are skipped. Delete models/train/work to start over.
# Env: SKIP_APT=1 / SKIP_NPM=1 / SKIP_EXPORT_CORPUS=1 to skip setup steps; PARASOL_THREADS (default 2).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
WORK="$HERE/work"
mkdir -p "$WORK/logs"
cd "$ROOT"

if [ "${SKIP_APT:-0}" != 1 ]; then
  echo "== apt-get install (Debian torch, OpenBLAS, tcmalloc, PIL, onnx)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq python3-torch libopenblas0-pthread libtcmalloc-minimal4 python3-pil python3-onnx python3-numpy
fi
if [ "${SKIP_NPM:-0}" != 1 ]; then
  echo "== npm install && npm run build"
  npm install
  npm run build
fi
if [ "${SKIP_EXPORT_CORPUS:-0}" != 1 ] && [ ! -f "$WORK/corpus/items.jsonl" ]; then
  echo "== corpus export (64x64 PNGs)"
  node dist/src/cli.js corpus export --out "$WORK/corpus" --size 64
fi

PY=/usr/bin/python3
export LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
export OMP_WAIT_POLICY=PASSIVE
export PARASOL_THREADS="${PARASOL_THREADS:-2}"
export PYTHONHASHSEED=0
cd "$HERE"

stage() {  # stage NAME CMD...  (records wall time in work/timing.json)
  local name="$1"; shift
  local t0; t0=$(date +%s)
  echo "== $name ($(date -u +%H:%M:%S))"
  "$@" 2>&1 | tee -a "$WORK/logs/$name.log" | { grep --line-buffered -v "Warning:\|warnings.warn\|_C._jit_pass" || true; }
  local dt=$(( $(date +%s) - t0 ))
  $PY - "$WORK/timing.json" "$name" "$dt" <<'PYEOF'
import json, os, sys
p, n, dt = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = json.load(open(p)) if os.path.exists(p) else {}
d[n] = d.get(n, 0) + dt
json.dump(d, open(p, "w"), indent=1)
PYEOF
}

T0=$(date +%s)
stage prepare $PY prepare.py
stage tokenizer_check $PY verify_tokenizer.py
stage semantic env SEM_STEPS="${SEM_STEPS:-800}" $PY train_semantic.py
stage style env STYLE_STEPS="${STYLE_STEPS:-500}" $PY train_style.py
stage style_text env STEXT_STEPS="${STEXT_STEPS:-600}" $PY train_style_text.py
stage export $PY export.py
# The generator (VAE, UNet, projector) trains on the frozen encoders; export.py rewrites pack.json,
# so the generator's export (which adds the `parasol` block) always runs after it.
stage generator bash "$HERE/run_generator.sh"
stage metrics $PY metrics.py
stage card $PY card.py
echo "== done in $(( ($(date +%s) - T0) / 60 )) min; pack in models/mini"
