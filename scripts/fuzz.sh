#!/usr/bin/env bash
# Fuzzes every cargo-fuzz target (fuzz/) for SECONDS each (default 30), starting from the
# committed corpora, one libFuzzer job per target, one target after another.
#
#   scripts/fuzz.sh [SECONDS]    fuzz with a nightly toolchain (installs cargo-fuzz if missing);
#                                without nightly, falls back to --replay and says so
#   scripts/fuzz.sh --replay     no fuzzing: run every committed corpus input through the same
#                                harness on stable (fuzz/tests/corpus_replay.rs) — what CI runs
#
# New inputs found while fuzzing go to fuzz/work/<target>/ (ignored by git), never into the
# committed seeds; crashes go to fuzz/artifacts/<target>/ and fail the script. See SECURITY.md
# (Fuzzing) for the targets, the oracles and the recorded runs.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# Keep in step with the [[bin]] targets of fuzz/Cargo.toml.
targets=(verify verify_structured keyset policy_expr policy_file token_source)

replay() {
    echo "==> fuzz corpus replay on stable: every committed input of ${targets[*]} through the fuzz harness (no fuzzing)"
    # The workspace's target dir: the fuzz crate pins the same dependency versions, so a CI run
    # that already built the workspace only builds the harness here.
    CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}" \
        cargo test --manifest-path fuzz/Cargo.toml --no-default-features --locked
}

if [[ "${1:-}" == "--replay" ]]; then
    replay
    exit 0
fi

seconds="${1:-30}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || ((seconds == 0)); then
    echo "usage: scripts/fuzz.sh [SECONDS] | --replay" >&2
    exit 2
fi

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "==> no nightly toolchain here (cargo-fuzz needs one): not fuzzing, replaying the corpora instead"
    replay
    exit 0
fi

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi

echo "==> cargo +nightly fuzz build (release, AddressSanitizer)"
cargo +nightly fuzz build

for target in "${targets[@]}"; do
    work="fuzz/work/$target"
    mkdir -p "$work"
    echo "==> fuzzing $target for ${seconds}s (corpus: fuzz/corpus/$target, new inputs: $work)"
    log="fuzz/work/$target.log"
    set +e
    cargo +nightly fuzz run "$target" "$work" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1
    status=$?
    set -e
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" || true
    if ((status != 0)); then
        echo "!!! $target failed (exit $status); the input is in fuzz/artifacts/$target/, the log in $log:" >&2
        grep -E -A 12 'panicked|ERROR: ' "$log" | head -n 40 >&2
        exit "$status"
    fi
done
echo "==> fuzzing done: no crashes"
