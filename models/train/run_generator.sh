#!/usr/bin/env bash
# Trains the mini PARASOL generator and adds it to the bundled pack (models/mini): unet.onnx, vae_encoder.onnx,
# vae_decoder.onnx, projector.onnx, reference_generator.json, generator_samples.png and the `parasol` block of
# pack.json. Needs the corpus export (work/corpus), the trained encoders (work/semantic.pt, work/style.pt) and the
# exported encoder pack (models/mini/pack.json): run it after models/train/run.sh's export stage.
#
# Stages (each seeded and resumable: re-running resumes from work/gen/*.pt, finished stages are skipped):
#   vae       train_vae.py        autoencoder, VAE_STEPS (700) steps
#   triplets  triplets.py         (x, y, s) by cross-modal search over the frozen encoders (train split only)
#   unet      train_unet.py       UNet + projector, UNET_STEPS (4000) steps
#   export    export_generator.py ONNX, pack.json `parasol` block, references, samples, timing
# Logs: work/logs/generator_<stage>.log; wall times: work/gen/timing.json.
# Env: PARASOL_THREADS (2), VAE_STEPS, UNET_STEPS, ... (see each script's docstring); GEN_FRESH=1 deletes work/gen;
# GEN_WAIT_PACK=MINUTES waits that long for models/mini/pack.json before the export stage.
# If the encoder export (export.py) rewrites pack.json afterwards, restore the block with:
#   /usr/bin/python3 models/train/export_generator.py --pack-only
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$HERE/work"
mkdir -p "$WORK/logs" "$WORK/gen"
if [ "${GEN_FRESH:-0}" = 1 ]; then rm -f "$WORK"/gen/*.pt "$WORK"/gen/*.npz "$WORK"/gen/*.json; fi

PY=/usr/bin/python3
export LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
export OMP_WAIT_POLICY=PASSIVE          # torch 1.13's OpenMP spin-waits otherwise: ruinous on a shared 2-core box
export PARASOL_THREADS="${PARASOL_THREADS:-2}"
export PYTHONHASHSEED=0
cd "$HERE"

for f in "$WORK/corpus/items.jsonl" "$WORK/semantic.pt" "$WORK/style.pt"; do
  [ -f "$f" ] || { echo "run_generator.sh: missing $f (run models/train/run.sh first)" >&2; exit 1; }
done
wait_pack() {  # the export stage needs the encoder pack's pack.json; GEN_WAIT_PACK=MINUTES polls for it
  local pack="$HERE/../mini/pack.json" waited=0
  while ! $PY -c "import json,sys; p=json.load(open(sys.argv[1])); assert 'semantic' in p and 'style' in p" "$pack" 2>/dev/null; do
    if [ "$waited" -ge "$(( ${GEN_WAIT_PACK:-0} * 60 ))" ]; then
      echo "run_generator.sh: $pack is missing or incomplete (export the encoder pack first)" >&2; exit 1
    fi
    sleep 20; waited=$(( waited + 20 ))
  done
  sleep 5  # let a concurrent writer finish
}

stage() {  # stage NAME CMD...  (appends to work/logs/generator_NAME.log, records wall time in work/gen/timing.json)
  local name="$1"; shift
  local t0; t0=$(date +%s)
  echo "== generator $name ($(date -u +%H:%M:%S))"
  "$@" 2>&1 | grep --line-buffered -v "Warning\|warnings.warn\|_C._jit_pass\|^  " | tee -a "$WORK/logs/generator_$name.log"
  local dt=$(( $(date +%s) - t0 ))
  $PY - "$WORK/gen/timing.json" "$name" "$dt" <<'PYEOF'
import json, os, sys
p, n, dt = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = json.load(open(p)) if os.path.exists(p) else {}
d[n] = d.get(n, 0) + dt
json.dump(d, open(p, "w"), indent=1)
PYEOF
}

T0=$(date +%s)
stage vae $PY train_vae.py
stage triplets $PY triplets.py
stage unet $PY train_unet.py
wait_pack
stage export $PY export_generator.py
echo "== generator done in $(( ($(date +%s) - T0) / 60 )) min; see work/gen/generator_report.json"
