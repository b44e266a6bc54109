#!/usr/bin/env bash
# Compare wasitls builds on one figure of `wasitls bench`, alternating them N
# times: on a shared machine one run of one build moves +-5%, so single runs
# prove nothing. Prints each build's values, sorted, and their median.
#
#   scripts/bench-ab.sh 8 /tmp/wasitls.old /tmp/wasitls.new
#   ROW=download scripts/bench-ab.sh 6 old new
#   ROW='stdtls 1000 concurrent' scripts/bench-ab.sh 6 old new
#   TABLE='HANDSHAKE LATENCY' ROW=utls COL='GUEST p99 ms' scripts/bench-ab.sh 6 old new
#   ROW='component upload' scripts/bench-ab.sh 6 old new
#   ROW='serve keep-alive' scripts/bench-ab.sh 6 old new
#
# ROW is a row of the bench's text report, by its first cell: the whole
# name, or the start of exactly one row's name (default 'stdtls sequential').
# COL is a column by its header (default the table's ratio column, RATIO or
# GUEST/NATIVE); TABLE the start of the table's header, where a row name is
# in more than one table. The section the row needs (-only) and its backend
# (-backends, the row's first word unless it is download or upload) follow
# from the row and table; ONLY overrides the section. BENCH_ARGS are passed
# to every run (default '-handshakes 300 -reps 3').
set -euo pipefail
usage="usage: [ROW=...] [COL=...] [TABLE=...] [ONLY=...] [BENCH_ARGS=...] bench-ab.sh N BINARY..."
n=${1:?$usage}; shift
[ $# -ge 1 ] || { echo "$usage" >&2; exit 2; }
row=${ROW:-stdtls sequential}
col=${COL:-}
table=${TABLE:-}
read -r -a extra <<<"${BENCH_ARGS:--handshakes 300 -reps 3}"

first=${row%% *}
case "$table $row" in
  " component"*|"WASI 0.2 COMPONENT"*) section=component; first= ;;
  SERVING*|*" serve "*|" serve"*) section=serve; first= ;;
  THROUGHPUT*|*" download"|*" upload") section=throughput; first= ;;
  *"PER REQUEST"*|*"per request"*|"MEMORY PER LIVE"*) section=perrequest ;;
  MEMORY*)                        section=idle; first= ;;
  START-UP*)                      section=startup; first= ;;
  *open*)                         section=sequential,idle ;;
  "HANDSHAKE LATENCY"*|*concurrent*) section=concurrent ;;
  *)                              section=sequential ;;
esac
section=${ONLY:-$section}
args=(bench -only "$section" "${extra[@]}")
[ -z "$first" ] || args+=(-backends "$first")

# pick prints the value at (row, col) of a text report on stdin, or the
# reason it cannot. Cells are separated by two or more spaces (tabwriter).
pick() {
  awk -v row="$row" -v col="$col" -v table="$table" '
    function cells(line, out,   n) {
      sub(/^ +/, "", line); sub(/ +$/, "", line)
      return split(line, out, /  +/)
    }
    !NF { c = 0; next }   # a blank line ends a table
    {
      k = cells($0, v)
      if (k < 2) next
      if (v[2] !~ /^-?[0-9.]+$/) {   # a table header: names its columns
        intable = (table == "" || index(v[1], table) == 1); c = 0
        for (i = 2; i <= k; i++)
          if ((col == "" && (v[i] == "RATIO" || v[i] == "GUEST/NATIVE")) || v[i] == col) c = i
        next
      }
      if (!intable || !c) next
      if (v[1] == row) { exact = v[c]; nexact++ }
      else if (index(v[1], row) == 1) { pre = v[c]; npre++; names = names " [" v[1] "]" }
    }
    END {
      if (nexact == 1) print exact
      else if (nexact == 0 && npre == 1) print pre
      else if (nexact + npre > 1) print "ambiguous:" names
      else print "none"
    }'
}

declare -A vals
for _ in $(seq "$n"); do
  for i in $(seq $#); do
    b=${!i}
    out=$("$b" "${args[@]}" 2>&1) || { echo "bench-ab: $b ${args[*]} failed:" >&2; echo "$out" >&2; exit 1; }
    v=$(pick <<<"$out")
    case "$v" in
      ''|none|ambiguous*)
        echo "bench-ab: $b ${args[*]}: no single row '$row'${table:+ in table '$table'}${col:+, column '$col'} ($v); the report was:" >&2
        echo "$out" >&2
        exit 1 ;;
    esac
    vals[$i]="${vals[$i]:-} $v"
  done
done
for i in $(seq $#); do
  sorted=$(tr ' ' '\n' <<<"${vals[$i]}" | grep . | sort -g | paste -sd ' ')
  median=$(tr ' ' '\n' <<<"$sorted" | grep . | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}')
  echo "${!i}: $sorted median $median"
done
