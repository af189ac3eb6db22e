#!/usr/bin/env bash
# The generator measurements of issue 18: UNets trained alike but for one setting, each exported into a copy of the
# pack and judged by the engine itself, `parasol eval generation --recognise 200`, through the demo index built with
# the same encoders (reports: work/sched/<variant>/recognise.json; a table at the end).
# Noise schedule and parameterisation (600 steps from scratch, EMA 0.995, the shipped autoencoder and triplets):
#   A  epsilon, linear betas 0.00085..0.012   (mini v2's recipe)
#   B  v,       linear betas 0.00085..0.012
#   C  epsilon, scaled-linear betas 0.00085..0.012   (chosen: mini v2.1 is C resumed to 1,800 steps)
# Palette pseudo-styles (mini v2's finished 2,400-step linear UNet, kept as work/gen/unet-2400-linear.pt, continued
# for 800 steps at EMA 0.998):
#   P  with generator.unet.p_palette = 0.5 (half of each batch's x and s recoloured together)
#   Q  without (the control: what the extra steps alone do)
# usage: models/train/generator_study.sh DATA_DIR [VARIANT ...]   (DATA_DIR: `parasol index --demo --data DIR` with
# models/mini); STUDY_STEPS overrides the steps (600 from scratch, 800 continued); every step resumes.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DATA="$(cd "${1:?usage: generator_study.sh DATA_DIR [VARIANT ...]}" && pwd)"
shift
VARIANTS=("$@")
[ ${#VARIANTS[@]} -gt 0 ] || VARIANTS=(A B C)
export OMP_WAIT_POLICY=PASSIVE PYTHONHASHSEED=0
cd "$HERE"
GEN="$(python3 -c "from parasol_train.config import load_config; print(load_config('configs/mini.toml').path('gen'))")"
for v in "${VARIANTS[@]}"; do
  FROM=""  # a finished checkpoint to continue, or empty: from scratch
  case "$v" in
    A) SET=(--set 'generator.schedule.kind="linear"') ;;
    B) SET=(--set 'generator.schedule.kind="linear"' --set 'generator.unet.prediction="v"') ;;
    C) SET=(--set 'generator.schedule.kind="scaled-linear"') ;;
    P) SET=(--set 'generator.schedule.kind="linear"' --set generator.unet.p_palette=0.5); FROM="$GEN/unet-2400-linear.pt" ;;
    Q) SET=(--set 'generator.schedule.kind="linear"'); FROM="$GEN/unet-2400-linear.pt" ;;
    *) echo "generator_study.sh: unknown variant $v (A, B, C, P or Q)" >&2; exit 2 ;;
  esac
  DIR="work/sched/$v"
  mkdir -p "$DIR"
  # the shipped autoencoder (its vae stage's decoder: generator.decoder.steps = 0 below), triplets, latents, images
  for f in "$GEN"/*; do
    case "$(basename "$f")" in unet*.pt|decoder.pt|generator_report.json) ;; *) ln -sf "$f" "$DIR/$(basename "$f")" ;; esac
  done
  COMMON=(--config configs/mini.toml --set "paths.gen=$DIR" --set "paths.pack=$DIR/pack" --set generator.decoder.steps=0
          "${SET[@]}")
  if [ -n "$FROM" ]; then
    [ -f "$FROM" ] || { echo "generator_study.sh: $FROM is missing (mini v2's 2,400-step UNet)" >&2; exit 2; }
    [ -f "$DIR/unet.pt" ] || python3 - "$FROM" "$DIR/unet.pt" <<'PY'
import sys
from parasol_train.runtime import atomic_save, load_checkpoint
ck = load_checkpoint(sys.argv[1])
ck["done"] = False  # reopened, so that --resume continues it
atomic_save(ck, sys.argv[2])
PY
    TOTAL=$(python3 -c "from parasol_train.runtime import load_checkpoint; print(load_checkpoint('$FROM')['step'] + ${STUDY_STEPS:-800})")
    RUN=(--set "generator.unet.steps=$TOTAL" --set generator.unet.ema=0.998 --set generator.unet.eval_every=400)
  else
    RUN=(--set "generator.unet.steps=${STUDY_STEPS:-600}" --set generator.unet.ema=0.995 --set generator.unet.eval_every=300)
  fi
  echo "== $v: unet"
  python3 -m parasol_train unet "${COMMON[@]}" --resume "${RUN[@]}"
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
python3 - "${VARIANTS[@]}" <<'PY'
import json, os, sys
print(f"{'variant':8} {'content':>8} {'styleSet':>8} {'styleShare':>10} {'text content':>12}  style distance at g_s 0..8")
for v in sys.argv[1:]:
    path = f"work/sched/{v}/recognise.json"
    if os.path.exists(path):
        r = json.load(open(path))
        rec, img = r["recognisability"], r["recognisability"]["image"]
        gs = " ".join(f"{g['style']:.4f}" for g in r["gs"] if g["value"] <= 8)
        print(f"{v:8} {img['content']:8.3f} {img['styleSet']:8.3f} {img['styleShare']:10.3f} {rec['text']['content']:12.3f}  {gs}")
PY
