#!/usr/bin/env bash
# What one request (or verification) costs, counted under valgrind rather than timed: the
# instructions executed, first-level instruction and data cache misses (valgrind's model of
# this machine's caches) and heap allocations, each per request. Counts do not swing with the
# machine's other work, so a small change on the request path shows.
#
#   scripts/count-instructions.sh SHAPE [SHAPE ...]
#
# SHAPE is one of benches/instructions.rs's: axum-no-auth, axum-identity-layer, axum-layer,
# axum-wrapped-layer, authorize-now, authorize-now-flushed, actix-no-auth, actix-reference,
# actix-middleware, rsa-verify, verify-cold. Each is run with COUNT (default 1000) and twice
# COUNT requests, counting only inside their loop (in a `-flushed` shape, only inside each
# decision), and the difference divided by COUNT is printed, so start-up and the first request
# drop out.
# Needs valgrind (`apt-get install valgrind`).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null; then
  echo "valgrind is missing: apt-get install valgrind" >&2
  exit 1
fi
if [ "$#" -eq 0 ]; then
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
count=${COUNT:-1000}

binary=$(cargo bench -p cognito-authz-benches --bench instructions --no-run --message-format=json 2>/dev/null |
  sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
if [ -z "$binary" ]; then
  echo "could not build benches/instructions.rs: cargo bench -p cognito-authz-benches --bench instructions --no-run" >&2
  exit 1
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Prints the event totals and the number of calls to malloc of one callgrind output file.
totals() {
  awk '
    /^events:/ { for (i = 2; i <= NF; i++) names[i - 1] = $i; n = NF - 1 }
    /^totals:/ || /^summary:/ { for (i = 2; i <= NF; i++) total[i - 1] = $i }
    /^c?fn=/ {
      id = $1; sub(/^c?fn=/, "", id)
      if (NF > 1) { name = $2; for (i = 3; i <= NF; i++) name = name " " $i; fn_name[id] = name }
      if ($1 ~ /^cfn=/) current = fn_name[id]
    }
    /^calls=/ { split($1, c, "="); if (current == "malloc") mallocs += c[2] }
    END { for (i = 1; i <= n; i++) printf "%s=%s ", names[i], total[i]; printf "mallocs=%d\n", mallocs }
  ' "$1"
}

printf '%-20s %12s %10s %10s %8s\n' shape instructions I1-misses D1-misses mallocs
for shape in "$@"; do
  case "$shape" in
    *-flushed) counted='instructions::counted*' ;;
    *) counted='instructions::run*' ;;
  esac
  for n in "$count" "$((2 * count))"; do
    valgrind --tool=callgrind --cache-sim=yes --collect-atstart=no \
      --toggle-collect="$counted" \
      --callgrind-out-file="$out/$shape.$n" "$binary" "$shape" "$n" >/dev/null 2>"$out/$shape.$n.log" || {
      cat "$out/$shape.$n.log" >&2
      exit 1
    }
  done
  paste <(totals "$out/$shape.$count" | tr ' ' '\n') <(totals "$out/$shape.$((2 * count))" | tr ' ' '\n') |
    awk -v shape="$shape" -v count="$count" '
      NF == 2 {
        split($1, a, "="); split($2, b, "=")
        per[a[1]] = (b[2] - a[2]) / count
      }
      END { printf "%-20s %12.0f %10.0f %10.0f %8.1f\n", shape, per["Ir"], per["I1mr"], per["D1mr"], per["mallocs"] }'
done
