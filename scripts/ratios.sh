#!/usr/bin/env bash
# Every `ratio/*` bench of benches/http.rs and benches/verify.rs, RUNS times (default 3), each
# run in a fresh process, then each ratio's median and its runs. One process's ratios are
# tight (both sides share every disturbance), but the same build can read a few hundredths
# apart from one process to the next (where the allocator and the loader put things), so a
# claim about a target should rest on the median of several runs on a quiet machine.
# Not part of CI.
#
#   scripts/ratios.sh [RUNS] [FILTER]
#
# FILTER (a regular expression, default `ratio/`) picks the benches, e.g. `ratio/actix`.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-3}
filter=${2:-ratio/}

binaries=()
for bench in http verify; do
  binary=$(cargo bench -p cognito-authz-benches --bench "$bench" --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
  if [ -z "$binary" ]; then
    echo "could not build benches/$bench.rs: cargo bench -p cognito-authz-benches --bench $bench --no-run" >&2
    exit 1
  fi
  binaries+=("$binary")
done

out=$(mktemp)
trap 'rm -f "$out"' EXIT
for run in $(seq 1 "$runs"); do
  for binary in "${binaries[@]}"; do
    # criterion prints the name on one line and `time: [low × estimate × high ×]` on the next;
    # a binary with no bench the filter picks prints neither.
    "$binary" --bench "$filter" --warm-up-time 1 --measurement-time 3 2>/dev/null |
      { grep -E '^ratio/|time:' || true; } | paste - - |
      awk -v run="$run" 'NF { print run, $1, $5 }' >>"$out"
  done
  echo "run $run of $runs done" >&2
done

if [ ! -s "$out" ]; then
  echo "no ratio bench matches $filter" >&2
  exit 1
fi
awk '
  { values[$2] = values[$2] " " $3; if (!($2 in order)) { order[$2] = ++names; name[names] = $2 } }
  END {
    for (i = 1; i <= names; i++) {
      n = split(values[name[i]], v, " ")
      # insertion sort, then the median
      for (a = 2; a <= n; a++) { x = v[a]; b = a - 1; while (b >= 1 && v[b] > x) { v[b + 1] = v[b]; b-- } v[b + 1] = x }
      median = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
      printf "%-55s median %.3f   runs%s\n", name[i], median, values[name[i]]
    }
  }' "$out"
