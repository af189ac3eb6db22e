#!/usr/bin/env bash
# Does training the style condition on palette pseudo-styles help the generator on unseen looks (issue 18)? Two
# continuations of mini v2's finished UNet (work/gen/unet.pt, 2,400 steps), alike in everything else:
#   P  800 more steps with generator.unet.p_palette = 0.5 (half of each batch recoloured, x and s together)
#   Q  800 more steps without (the control: what the extra steps alone do)
# each exported into a copy of the pack and judged by `parasol eval generation --recognise 200` through the demo
# index built with the same encoders, as schedule_study.sh does.
# usage: models/train/palette_study.sh DATA_DIR [P|Q ...]; every step resumes.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DATA="$(cd "${1:?usage: palette_study.sh DATA_DIR [P|Q ...]}" && pwd)"
shift
VARIANTS=("$@")
[ ${#VARIANTS[@]} -gt 0 ] || VARIANTS=(P Q)
EXTRA="${STUDY_STEPS:-800}"
export OMP_WAIT_POLICY=PASSIVE PYTHONHASHSEED=0
cd "$HERE"
GEN="$(python3 -c "from parasol_train.config import load_config; print(load_config('configs/mini.toml').path('gen'))")"
for v in "${VARIANTS[@]}"; do
  case "$v" in
    P) SET=(--set generator.unet.p_palette=0.5) ;;
    Q) SET=() ;;
    *) echo "palette_study.sh: unknown variant $v (P or Q)" >&2; exit 2 ;;
  esac
  DIR="work/sched/$v"
  mkdir -p "$DIR"
  for f in "$GEN"/*; do
    case "$(basename "$f")" in unet.pt|generator_report.json|decoder.pt) ;; *) ln -sf "$f" "$DIR/$(basename "$f")" ;; esac
  done
  # the starting point: mini v2's finished UNet, reopened so that --resume continues it
  [ -f "$DIR/unet.pt" ] || python3 - "$GEN/unet.pt" "$DIR/unet.pt" <<'PY'
import sys
from parasol_train.runtime import atomic_save, load_checkpoint
ck = load_checkpoint(sys.argv[1])
ck["done"] = False
atomic_save(ck, sys.argv[2])
PY
  TOTAL=$(python3 -c "from parasol_train.runtime import load_checkpoint; print(load_checkpoint('$GEN/unet.pt')['step'] + $EXTRA)")
  COMMON=(--config configs/mini.toml --set "paths.gen=$DIR" --set "paths.pack=$DIR/pack" "${SET[@]}")
  echo "== $v: unet to step $TOTAL"
  python3 -m parasol_train unet "${COMMON[@]}" --resume --set "generator.unet.steps=$TOTAL" \
    --set generator.unet.ema=0.998 --set generator.unet.eval_every=400
  if [ ! -f "$DIR/pack/unet.onnx" ] || [ "$DIR/unet.pt" -nt "$DIR/pack/unet.onnx" ]; then
    echo "== $v: export into a copy of the pack"
    rm -rf "$DIR/pack" && cp -r "$ROOT/models/mini" "$DIR/pack"
    python3 -m parasol_train export_generator "${COMMON[@]}"
  fi
  if [ ! -s "$DIR/recognise.json" ]; then
    echo "== $v: recognisability through the demo index"
    (cd "$ROOT" && node dist/src/cli.js eval generation --json --pairs 8 --recognise 200 --pack "models/train/$DIR/pack" \
      --data "$DATA" --out "models/train/$DIR/eval" > "models/train/$DIR/recognise.json.tmp")
    mv "$DIR/recognise.json.tmp" "$DIR/recognise.json"
  fi
done
