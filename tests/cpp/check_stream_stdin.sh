#!/usr/bin/env bash
# ctest example_stream_stdin: 3 s of s16le silence through the C example must print 10 windows
# (9 full ones, one per 0.25 s hop, plus the zero-padded tail at flush), each "start end label score".
set -euo pipefail
exe=$1 model=$2
out=$(head -c 96000 /dev/zero | "$exe" --format s16le --chunk 333 --model "$model")
echo "$out"
[ "$(echo "$out" | wc -l)" -eq 10 ] || { echo "expected 10 lines" >&2; exit 1; }
if echo "$out" | grep -Evq '^[0-9]+\.[0-9]{3} [0-9]+\.[0-9]{3} [a-z]+ [01]\.[0-9]{4}$'; then
  echo "a line has the wrong format" >&2; exit 1
fi
[ "$(echo "$out" | tail -n 1 | cut -d' ' -f1-2)" = "2.250 3.000" ] || { echo "last window must be 2.250-3.000" >&2; exit 1; }
