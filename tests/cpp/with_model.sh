#!/usr/bin/env bash
# with_model.sh MODEL CMD... [-- CMD2...]: runs CMD (then CMD2) when MODEL exists; otherwise says
# why and exits 77, which ctest reports as "Skipped" (SKIP_RETURN_CODE 77), never as passed.
set -euo pipefail
model=$1
shift
if [ ! -f "$model" ]; then
  echo "SKIPPED: the real model $model is not there yet (sdk/models/ gets it from the export step)"
  exit 77
fi
first=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do first+=("$1"); shift; done
"${first[@]}"
if [ $# -gt 0 ]; then shift; "$@"; fi
