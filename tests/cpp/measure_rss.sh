#!/usr/bin/env bash
# measure_rss.sh BUDGET_MB CMD...: runs CMD under /usr/bin/time -v and prints its peak RSS.
# Fails when BUDGET_MB > 0 and the peak exceeds it. (BUDGET_MB 0: report only.)
set -euo pipefail
budget=$1
shift
[ -x /usr/bin/time ] || { echo "/usr/bin/time not found: apt-get install time" >&2; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
/usr/bin/time -v "$@" 2>"$log"
kb=$(awk -F': ' '/Maximum resident set size/{print $2}' "$log")
wall=$(awk -F'): ' '/Elapsed \(wall clock\)/{print $2}' "$log")
mb=$(awk -v k="$kb" 'BEGIN{printf "%.1f", k/1024}')
echo "RSS peak_rss_mb=$mb wall=$wall budget_mb=$budget"
if [ "$budget" != 0 ] && awk -v m="$mb" -v b="$budget" 'BEGIN{exit !(m > b)}'; then
  echo "peak RSS $mb MB exceeds the budget of $budget MB" >&2
  exit 1
fi
