#!/usr/bin/env bash
# The model importer's Python environment (.venv-export), which `parasol pack import` and the
# tests in test/export use: created once, offline, from the local wheel index pip is configured
# with. --no-deps because models/export/requirements.txt is a complete lock and must not pull
# torchvision. Never fails `npm test` itself: without it the export tests fail and say why.
set -uo pipefail
cd "$(dirname "$0")/.."
venv=.venv-export
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import torch, onnx, transformers' 2>/dev/null; then exit 0; fi
echo "python-env: creating $venv from models/export/requirements.txt (offline, once)…" >&2
python3 -m venv "$venv" \
  && "$venv/bin/pip" install --quiet --no-deps --index-url file:///opt/pypi/simple --find-links /opt/wheels \
       -r models/export/requirements.txt \
  || echo "python-env: could not create $venv; the model importer and its tests need it (README \"Use a real model\")" >&2
exit 0
