#!/usr/bin/env bash
# Issue 11's fine-tuning comparison (docs/whisper.md, "Fine-tuning the small student") on a GPU
# machine that has torch but not this project's install and cannot download: it runs the checkout
# in place through a symlinked package tree.
#
# Needs inside the checkout (ignored paths, copied there beforehand):
#   .devdata/data/ravdess            a copy of ../shared/data/ravdess (44 MB of 16 kHz FLAC)
#   .devdata/whisper_tiny_en_k3.pt   edgeemo.train.models.whisper_small.save_encoder_weights of tiny.en, k = 3
#   .whl/                            wheels of soundfile, soxr, cffi, pycparser for that machine's Python
# Usage: OUT=results-folder [DEVICE=cuda] [WORKERS=n] [PYTHON=python3] bash scripts/gpu_small_finetune.sh [recipe options]
# Writes OUT/small_finetune.{json,md,png,windows.npz}, OUT/log.txt and OUT/final/ (the best row
# trained on all 20 actors, float16 weights).
set -euo pipefail
OUT=${OUT:?set OUT to the folder for the results}
DEVICE=${DEVICE:-cuda}
WORKERS=${WORKERS:-$(nproc)}
PYTHON=${PYTHON:-python3}
root=$(cd "$(dirname "$0")/.." && pwd)
for need in .devdata/data/ravdess/manifest.csv .devdata/whisper_tiny_en_k3.pt; do
  [ -e "$root/$need" ] || { echo "missing $root/$need (see the top of $0)" >&2; exit 2; }
done
work=$(mktemp -d)
if ! "$PYTHON" -c "import soundfile, soxr" 2>/dev/null; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$work/site" "$root"/.whl/*.whl
fi
mkdir -p "$work/pkg/edgeemo"
for f in "$root"/sdk/*; do ln -s "$f" "$work/pkg/edgeemo/"; done
for sub in train export recipes; do ln -s "$root/$sub" "$work/pkg/edgeemo/$sub"; done
export PYTHONPATH="$work/pkg:$work/site" EDGEEMO_DATA="$root/.devdata/data" PYTHONUNBUFFERED=1
mkdir -p "$OUT"
set +e
"$PYTHON" -c 'import sys; from edgeemo.cli.main import main; sys.argv[0] = "edgeemo"; main()' \
  recipe small-finetune --out "$OUT/small_finetune" --rows ft_all_k3,ft_top_k3 --final best --int8 best \
  --later-rows frozen_k3,ft_all_k2 --save-models "$work/models" --half --device "$DEVICE" --workers "$WORKERS" \
  --encoder-weights "$root/.devdata/whisper_tiny_en_k3.pt" --no-progress "$@" 2>&1 | tee "$OUT/log.txt"
status=${PIPESTATUS[0]}
set -e
for final in "$work"/models/*/final; do [ -d "$final" ] && cp -r "$final" "$OUT/final"; done
exit "$status"
