#!/usr/bin/env bash
# Stage what scripts/gpu_small_finetune.sh needs inside this checkout (ignored paths), for a GPU
# machine that cannot download and has no Whisper package: a copy of the RAVDESS folder, Whisper
# tiny.en's first 3 encoder layers as one float16 file, and wheels of the audio packages for
# Python 3.12 on x86-64 Linux. About 58 MB in all.
# Usage: bash scripts/prepare_gpu_bundle.sh   (after `make venv-dev`; EDGEEMO_DATA overrides ../shared/data)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-$root/.venv/bin/python}
data=${EDGEEMO_DATA:-$root/../shared/data}
[ -f "$data/ravdess/manifest.csv" ] || { echo "no RAVDESS manifest under $data/ravdess" >&2; exit 2; }
mkdir -p "$root/.devdata/data" "$root/.whl"
rm -rf "$root/.devdata/data/ravdess"
cp -r "$data/ravdess" "$root/.devdata/data/ravdess"
"$PY" -c "import sys; from edgeemo.recipes.small_finetune import write_encoder_weights; print(write_encoder_weights(sys.argv[1]))" \
  "$root/.devdata/whisper_tiny_en_k3.pt"
versions=$("$PY" -c "from importlib.metadata import version as v; print(' '.join(f'{p}=={v(p)}' for p in ('soundfile', 'soxr', 'cffi', 'pycparser')))")
for spec in $versions; do
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform any -d "$root/.whl" "$spec"
done
du -sh "$root/.devdata" "$root/.whl"
