#!/usr/bin/env bash
# Trains the generator (vae, triplets, unet) on a GPU machine that receives only the working tree and returns files
# from $OUT (the device tool's `run`; models/README.md, "Training on a GPU", has the exact call and its budget).
#   models/train/gpu.sh pack [--config configs/mini.toml] [--max-mb N]   HERE: bundle the train images, the frozen
#        encoders and the config into models/train/gpu-bundle (git-ignored; name it in `carry`), sized to what is
#        left of the 64 MiB the machine receives
#   models/train/gpu.sh train --minutes N [--device cuda|cpu] [--amp auto|on|off] [--out DIR] [--set k=v ...]
#        THERE: vae, triplets, unet within N minutes of wall time; checkpoints (CPU tensors), triplets.json,
#        summary.json and train.log into $OUT (--out DIR elsewhere; --device cpu runs the same thing here)
#   models/train/gpu.sh import DIR [--config configs/mini.toml] [--force]   HERE: the returned checkpoints into
#        paths.gen, then: python -m parasol_train export_generator metrics card --config configs/mini.toml
# PYTHON (default python3) picks the interpreter.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
export PYTHONUNBUFFERED=1 PYTHONHASHSEED=0 OMP_WAIT_POLICY=PASSIVE
cmd="${1:-}"
[ $# -gt 0 ] && shift
args=("$@")
export PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}"  # folders are taken as given; configs relative to models/train
case "$cmd" in
  pack|import)
    exec "$PYTHON" -m parasol_train.gpu "$cmd" "${args[@]}" ;;
  train)
    out="${OUT:-$HERE/gpu-out}"
    for ((i = 0; i < ${#args[@]}; i++)); do [ "${args[$i]}" = --out ] && out="${args[$((i + 1))]}"; done
    mkdir -p "$out"
    set +e
    "$PYTHON" -m parasol_train.gpu train --out "$out" "${args[@]}" 2>&1 | tee "$out/train.log"
    exit "${PIPESTATUS[0]}" ;;
  *)
    sed -n '2,13p' "$0" >&2
    exit 2 ;;
esac
