#!/usr/bin/env bash
# Reproduces the bundled `mini` model pack (models/mini) end to end: installs the pinned Python requirements
# (offline, from the local wheel index), exports the corpus with the TypeScript CLI when it is missing, then runs
# every stage: python -m parasol_train all --config configs/mini.toml.
# usage: models/train/run.sh [--smoke] [--resume] [more python -m parasol_train options, e.g. --set semantic.steps=100]
#   --smoke   configs/smoke.toml: a few steps of every stage on a sample, into work/smoke (never models/mini)
#   --resume  continue from the latest checkpoints; finished stages are skipped
# PYTHON (default python3) picks the interpreter; SKIP_PIP=1 skips the install.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
CONFIG="configs/mini.toml"
ARGS=()
for a in "$@"; do
  if [ "$a" = "--smoke" ]; then CONFIG="configs/smoke.toml"; else ARGS+=("$a"); fi
done

if [ "${SKIP_PIP:-0}" != 1 ]; then
  "$PYTHON" -m pip install -q --index-url file:///opt/pypi/simple --find-links /opt/wheels -r "$HERE/requirements.txt"
fi
CORPUS="$(cd "$HERE" && "$PYTHON" -c "from parasol_train.config import load_config; print(load_config('$CONFIG').path('corpus'))")"
if [ ! -f "$CORPUS/items.jsonl" ]; then
  echo "== corpus export (64x64 PNGs) into $CORPUS"
  cd "$ROOT"
  [ -f dist/src/cli.js ] || npm run build
  node dist/src/cli.js corpus export --out "$CORPUS" --size 64
fi
cd "$HERE"
export OMP_WAIT_POLICY=PASSIVE  # OpenMP spin-waits otherwise: ruinous on a shared 2-core machine
export PYTHONHASHSEED=0
exec "$PYTHON" -m parasol_train all --config "$CONFIG" "${ARGS[@]}"
