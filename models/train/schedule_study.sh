#!/usr/bin/env bash
# The measurement that chose the generator's noise schedule and parameterisation (issue 18): the same UNet,
# data, seed and budget (600 steps from scratch, EMA 0.995) trained once per variant on the shipped autoencoder
# and triplets, exported into a copy of the pack, then judged by the engine itself:
# `parasol eval generation --recognise 200` through the demo index built with the same encoders.
#   A  epsilon, linear betas 0.00085..0.012   (mini v2's recipe)
#   B  v,       linear betas 0.00085..0.012
#   C  epsilon, scaled-linear betas 0.00085..0.012
# usage: models/train/schedule_study.sh DATA_DIR [VARIANT ...]   (DATA_DIR: `parasol index --demo --data DIR` with
# models/mini; run from anywhere; every step resumes, so an interrupted study continues where it stopped)
# Results: models/train/work/sched/<variant>/recognise.json (+ generator_report.json); a table of them at the end.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DATA="${1:?usage: schedule_study.sh DATA_DIR [VARIANT ...]}"
DATA="$(cd "$DATA" && pwd)"
shift
VARIANTS=("$@")
[ ${#VARIANTS[@]} -gt 0 ] || VARIANTS=(A B C)
STEPS="${STUDY_STEPS:-600}"
export OMP_WAIT_POLICY=PASSIVE PYTHONHASHSEED=0
cd "$HERE"
GEN="$(python3 -c "from parasol_train.config import load_config; print(load_config('configs/mini.toml').path('gen'))")"
for v in "${VARIANTS[@]}"; do
  case "$v" in
    A) SET=() ;;
    B) SET=(--set 'generator.unet.prediction="v"') ;;
    C) SET=(--set 'generator.schedule.kind="scaled-linear"') ;;
    *) echo "schedule_study.sh: unknown variant $v (A, B or C)" >&2; exit 2 ;;
  esac
  DIR="work/sched/$v"
  mkdir -p "$DIR"
  # the shipped autoencoder, triplets, latents and image caches; never its UNet or report
  for f in "$GEN"/*; do
    case "$(basename "$f")" in unet.pt|generator_report.json) ;; *) ln -sf "$f" "$DIR/$(basename "$f")" ;; esac
  done
  COMMON=(--config configs/mini.toml --set "paths.gen=$DIR" --set "paths.pack=$DIR/pack" "${SET[@]}")
  echo "== $v: unet ($STEPS steps)"
  python3 -m parasol_train unet "${COMMON[@]}" --resume --set "generator.unet.steps=$STEPS" \
    --set generator.unet.ema=0.995 --set generator.unet.eval_every=300
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
print(f"{'variant':8} {'content':>8} {'styleSet':>8} {'styleShare':>10} {'text content':>12} {'style dist g_s=0..8':>20}")
for v in sys.argv[1:]:
    d = f"work/sched/{v}"
    if not os.path.exists(f"{d}/recognise.json"):
        continue
    r = json.load(open(f"{d}/recognise.json"))
    rec, img = r["recognisability"], r["recognisability"]["image"]
    gs = " ".join(f"{g['style']:.4f}" for g in r["gs"] if g["value"] <= 8)
    print(f"{v:8} {img['content']:8.3f} {img['styleSet']:8.3f} {img['styleShare']:10.3f} {rec['text']['content']:12.3f}  {gs}")
PY
