#!/usr/bin/env bash
# Reproduces the bundled `mini` model pack (models/mini) end to end: installs the pinned Python requirements
# (offline, from the local wheel index), exports both demo corpora with the TypeScript CLI when they are missing
# (the emoji sets; Open Clip Art, fetched with `parasol corpus fetch openclipart`), then runs every stage:
# python -m parasol_train all --config configs/mini.toml (the prepare stage fetches WordNet, Debian wordnet-base).
# usage: models/train/run.sh [--smoke|--heldout] [--resume] [more python -m parasol_train options, e.g. --set semantic.steps=100]
#   --smoke    configs/smoke.toml: a few steps of every stage on a sample, into work/smoke (never models/mini)
#   --heldout  configs/mini_heldout.toml: the same recipe on the train split only, into work/heldout (its metrics
#              are the held-out protocol's numbers)
#   --resume   continue from the latest checkpoints; finished stages are skipped
# PYTHON (default python3) picks the interpreter; SKIP_PIP=1 skips the install.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
CONFIG="configs/mini.toml"
ARGS=()
for a in "$@"; do
  case "$a" in
    --smoke) CONFIG="configs/smoke.toml" ;;
    --heldout) CONFIG="configs/mini_heldout.toml" ;;
    *) ARGS+=("$a") ;;
  esac
done

if [ "${SKIP_PIP:-0}" != 1 ]; then
  "$PYTHON" -m pip install -q --index-url file:///opt/pypi/simple --find-links /opt/wheels -r "$HERE/requirements.txt"
fi
paths() {
  (cd "$HERE" && "$PYTHON" -c "from parasol_train.config import load_config; c = load_config('$CONFIG')
print(c.path('corpus')); print(c.path('artwork') if c.paths.artwork else ''); print(c.path('artwork_data'))")
}
{ read -r CORPUS; read -r ARTWORK; read -r ARTWORK_DATA; } < <(paths)
if [ ! -f "$CORPUS/items.jsonl" ]; then
  echo "== corpus export (64x64 PNGs) into $CORPUS"
  cd "$ROOT"
  [ -f dist/src/cli.js ] || npm run build
  node dist/src/cli.js corpus export --out "$CORPUS" --size 64
fi
if [ -n "$ARTWORK" ] && [ ! -f "$ARTWORK/items.jsonl" ]; then
  cd "$ROOT"
  [ -f dist/src/cli.js ] || npm run build
  if [ ! -d "$ARTWORK_DATA/corpora/openclipart" ]; then
    echo "== corpus fetch openclipart into $ARTWORK_DATA"
    node dist/src/cli.js corpus fetch openclipart --data "$ARTWORK_DATA"
  fi
  echo "== corpus export --corpus artwork (64x64 PNGs) into $ARTWORK"
  node dist/src/cli.js corpus export --corpus artwork --data "$ARTWORK_DATA" --out "$ARTWORK" --size 64
fi
cd "$HERE"
export OMP_WAIT_POLICY=PASSIVE  # OpenMP spin-waits otherwise: ruinous on a shared 2-core machine
export PYTHONHASHSEED=0
exec "$PYTHON" -m parasol_train all --config "$CONFIG" "${ARGS[@]}"
