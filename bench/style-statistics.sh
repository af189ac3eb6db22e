#!/bin/sh
# The weights-free style descriptor on the mini pack beside its trained style tower, one command:
#   nice sh bench/style-statistics.sh [sample] [fit-images] [power]   (after `npm run build`; needs the importer's Python)
# Writes bench/results/style-statistics-p<power>.json: eval retrieval of both packs in the same run
# (SKIP_TRAINED=1 leaves the trained tower's run out, for trying other powers).
set -e
sample=${1:-0.3}
count=${2:-5000}
power=${3:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r models/mini "$work/mini-statistics"
node dist/src/cli.js pack import statistics --into "$work/mini-statistics" --replace-style
node dist/bench/style-statistics.js "$work/train-images" "$count"
node dist/src/cli.js pack fit-style --pack "$work/mini-statistics" --images "$work/train-images" --dim 128 --power "$power" --json > "$work/fit.json"
node dist/src/cli.js eval retrieval --json --sample "$sample" --pack "$work/mini-statistics" > "$work/statistics.json"
if [ -z "$SKIP_TRAINED" ]; then node dist/src/cli.js eval retrieval --json --sample "$sample" > "$work/trained.json"; else echo null > "$work/trained.json"; fi
mkdir -p bench/results
node -e '
const fs = require("fs");
const [fit, statistics, trained] = process.argv.slice(1).map((f) => JSON.parse(fs.readFileSync(f, "utf8")));
const out = { date: new Date().toISOString(), loadavg: require("os").loadavg(), fit, statistics, trained };
fs.writeFileSync(`bench/results/style-statistics-p${fit.power}.json`, JSON.stringify(out, null, 2) + "\n");
const row = (name, r) => `${name}: style P@10 ${r.style.p10.toFixed(3)} mAP@10 ${r.style.map10.toFixed(3)} (${r.style.queries} queries); histogram ${r.style.baselines.histogram.p10.toFixed(3)}`;
console.log(row("weights-free statistics", statistics));
if (trained) console.log(row("trained style tower", trained));
' "$work/fit.json" "$work/statistics.json" "$work/trained.json"
