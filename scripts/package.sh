#!/usr/bin/env bash
# Packaging and minimum-Rust checks, as a release would meet them:
# - every publishable crate packages (`cargo package`, without the full rebuild of each);
# - the stated minimum Rust (`rust-version` in Cargo.toml): with that toolchain installed
#   (`rustup toolchain install <version>`), the workspace is checked with it; without it, every
#   dependency in Cargo.lock that the published crates use must declare a `rust-version` no newer
#   than ours (our own code is then only checked by the current toolchain: say so).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The workspace's unpublished packages (`publish = false`): benches, the soak tool, test support.
unpublished=(--exclude cognito-authz-benches --exclude cognito-authz-soak --exclude cognito-authz-test-support)

echo "==> cargo package --workspace ${unpublished[*]} --no-verify"
cargo package --workspace "${unpublished[@]}" --no-verify --allow-dirty --locked --quiet

msrv=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
if [[ -z "$msrv" ]]; then
    echo "Cargo.toml states no rust-version" >&2
    exit 1
fi
if rustup toolchain list 2>/dev/null | grep -q "^$msrv[.-]"; then
    echo "==> cargo +$msrv check (minimum Rust $msrv)"
    CARGO_TARGET_DIR=target/msrv cargo "+$msrv" check --workspace "${unpublished[@]}" \
        --all-features --locked
else
    echo "==> minimum Rust $msrv: toolchain not installed (rustup toolchain install $msrv for the" \
        "full check); checking that no dependency needs a newer Rust"
    cargo metadata --format-version 1 --locked --filter-platform "$(rustc -vV | sed -n 's/^host: //p')" \
        | python3 -c '
import json, sys
def parse(version):
    parts = [int(part) for part in version.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))
msrv = parse(sys.argv[1])
metadata = json.load(sys.stdin)
packages = {package["id"]: package for package in metadata["packages"]}
nodes = {node["id"]: node for node in metadata["resolve"]["nodes"]}
# What the published crates build: their normal and build dependencies, transitively.
roots = [package["id"] for package in packages.values()
         if package["source"] is None and package.get("publish") != []]
seen, stack = set(), list(roots)
while stack:
    node = stack.pop()
    if node in seen:
        continue
    seen.add(node)
    for dependency in nodes[node]["deps"]:
        if any(kind["kind"] in (None, "build") for kind in dependency["dep_kinds"]):
            stack.append(dependency["pkg"])
newer = []
for node in sorted(seen):
    package = packages[node]
    version = package.get("rust_version")
    if version and parse(version) > msrv:
        newer.append(package["name"] + " " + package["version"] + " needs Rust " + version)
if newer:
    sys.exit("dependencies newer than rust-version " + sys.argv[1] + ":\n  " + "\n  ".join(newer))
print(f"{len(seen)} crates: none needs a Rust newer than {sys.argv[1]}")
' "$msrv"
fi
