#!/usr/bin/env bash
# Compare wasitls builds on one bench figure, alternating them N times: on a
# shared machine one run of one build moves +-5%, so single runs prove
# nothing. Prints each build's ratios, sorted, and their median.
#
#   scripts/bench-ab.sh 8 /tmp/wasitls.old /tmp/wasitls.new
#   ROW='stdtls 1000 concurrent' ONLY=concurrent scripts/bench-ab.sh 6 old new
set -euo pipefail
n=${1:?usage: bench-ab.sh N BINARY...}; shift
[ $# -ge 1 ] || { echo "usage: bench-ab.sh N BINARY..." >&2; exit 2; }
row=${ROW:-stdtls sequential}
only=${ONLY:-sequential}
declare -A ratios
for _ in $(seq "$n"); do
  for b in "$@"; do
    r=$("$b" bench -only "$only" -backends "${row%% *}" -handshakes 300 -reps 3 2>/dev/null |
      awk -v row="$row" 'index($0, row) && !/open/ {print $NF; exit}')
    [ -n "$r" ] || { echo "bench-ab: $b printed no '$row' row" >&2; exit 1; }
    ratios[$b]="${ratios[$b]:-} $r"
  done
done
for b in "$@"; do
  sorted=$(tr ' ' '\n' <<<"${ratios[$b]}" | grep . | sort -n | tr '\n' ' ')
  median=$(tr ' ' '\n' <<<"$sorted" | grep . | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}')
  echo "$b: $sorted median $median"
done
