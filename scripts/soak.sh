#!/usr/bin/env bash
# Load and soak test of the axum quickstart (the tool package tools/soak): SECONDS (default 60) of mixed
# valid, forbidden, invalid, expired and token-less requests from 64 keep-alive connections on
# 127.0.0.1, with a JWKS key rotation half-way; prints requests/s, p50/p99 latency, unexpected
# statuses and resident memory, and exits non-zero on any unexpected status or memory growth.
# Not part of CI. See docs/soak.md for what is measured and the recorded runs.
#
#   scripts/soak.sh [SECONDS]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

seconds="${1:-60}"
echo "==> cargo run --release -p cognito-authz-soak --example soak -- --seconds $seconds"
cargo run --release -p cognito-authz-soak --example soak -- --seconds "$seconds"
