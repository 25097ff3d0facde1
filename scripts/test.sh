#!/usr/bin/env bash
# Runs every test of the workspace, doctests included, on a fresh machine or a warm one.
#
# The interop tests (tests/moto_interop.rs) run moto's Cognito server, a Python package: it is
# installed once into target/moto-venv and reused while its version still matches the pin.
# The browser tests (tests/cookie_csrf) drive a headless Chromium: Debian's `chromium` package
# is installed when no Chromium is found (as root, or through sudo).
# The gRPC and Lambda tests (crates/tower/tests/grpc.rs, lambda.rs) run Python's grpcio as a
# second gRPC client and cargo-lambda (`cargo lambda watch` / `invoke`), both from PyPI: they are
# installed once into target/tools-venv the same way, with openapi-spec-validator, which checks
# the OpenAPI documents `cognito-authz policy openapi` and the utoipa integration write
# (crates/cli/tests/openapi.rs, tests/openapi.rs).
# The Lambda authorizer's end-to-end test (crates/lambda/tests/cargo_lambda.rs) runs its example
# under `cargo lambda watch` with the same cargo-lambda.
# The revocation tests (tests/revocation.rs) run Debian's `redis-server`, installed with apt-get
# when missing.
# The weak-key test (tests/verify_checks.rs) makes an RSA key with exponent 3 with Debian's
# `openssl`, installed with apt-get when missing.
# The token decoder's proptests (crates/core/src/verify/jwt.rs) run again under qemu-x86_64 as
# CPUs without AVX2 and without SSE4.1: Debian's `qemu-user`, installed with apt-get when missing.
# Extra arguments go to `cargo test` (e.g. `scripts/test.sh --test lib moto`).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# Verified with moto 5.2.5 (iss, JWKS path, key and claims as tests/moto_interop.rs describes).
moto_requirement='moto[server]>=5.2.5,<5.3'
venv="$root/target/moto-venv"
stamp="$venv/.installed-requirement"
python="${PYTHON:-python3}"

if [[ ! -x "$venv/bin/moto_server" || "$(cat "$stamp" 2>/dev/null)" != "$moto_requirement" ]]; then
    echo "==> installing $moto_requirement into $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        --no-input "$moto_requirement"
    printf '%s' "$moto_requirement" >"$stamp"
fi
echo "==> moto $("$venv/bin/python" -c 'import moto; print(moto.__version__)') at $venv"

if [[ -z "${COGNITO_AUTHZ_CHROMIUM:-}" ]] && ! command -v chromium >/dev/null 2>&1 \
    && ! command -v chromium-browser >/dev/null 2>&1; then
    echo "==> installing chromium (apt-get install -y chromium)"
    sudo=""
    if [[ "$(id -u)" -ne 0 ]]; then
        sudo="sudo"
    fi
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
fi
echo "==> chromium: $(command -v chromium || command -v chromium-browser || echo "${COGNITO_AUTHZ_CHROMIUM:-}")"
# Verified with grpcio 1.85, cargo-lambda 1.9.2 (crates/tower/tests/grpc.rs, lambda.rs,
# crates/lambda/tests/cargo_lambda.rs), openapi-spec-validator 0.7.2 and cedarpy 4.12
# (tests/cedar.rs: Cedar decisions compared with an independent evaluator).
tools_requirements=('grpcio>=1.60,<2' 'cargo-lambda>=1.9.2,<2' 'openapi-spec-validator>=0.7.2,<0.8' 'cedarpy>=4.12,<5')
tools_venv="$root/target/tools-venv"
tools_stamp="$tools_venv/.installed-requirements"
if [[ ! -x "$tools_venv/bin/cargo-lambda" || "$(cat "$tools_stamp" 2>/dev/null)" != "${tools_requirements[*]}" ]]; then
    echo "==> installing ${tools_requirements[*]} into $tools_venv"
    rm -rf "$tools_venv"
    "$python" -m venv "$tools_venv"
    "$tools_venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        --no-input "${tools_requirements[@]}"
    printf '%s' "${tools_requirements[*]}" >"$tools_stamp"
fi
echo "==> grpcio $("$tools_venv/bin/python" -c 'import grpc; print(grpc.__version__)'), $("$tools_venv/bin/cargo-lambda" lambda --version), openapi-spec-validator $("$tools_venv/bin/python" -c 'import importlib.metadata as m; print(m.version("openapi-spec-validator"))') at $tools_venv"


# The ALB verifier's differential test (crates/core/tests/alb.rs) runs aws-jwt-verify's
# AlbJwtVerifier under node, and the Cedar schema test (tests/cedar.rs) AWS's generator
# (@cedar-policy/cedar-authorization generate-schema): installed with npm into target/npm
# (node and npm from Debian's packages when the machine has none).
aws_jwt_verify_requirement='aws-jwt-verify@5.2.1 @cedar-policy/cedar-authorization@0.2.0'
npm_prefix="$root/target/npm"
npm_stamp="$npm_prefix/.installed-requirement"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "==> installing node and npm (apt-get install nodejs npm)"
    apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
if [[ ! -f "$npm_prefix/node_modules/aws-jwt-verify/package.json" || "$(cat "$npm_stamp" 2>/dev/null)" != "$aws_jwt_verify_requirement" ]]; then
    echo "==> installing $aws_jwt_verify_requirement into $npm_prefix"
    rm -rf "$npm_prefix"
    mkdir -p "$npm_prefix"
    # shellcheck disable=SC2086 # one word per package
    npm install --prefix "$npm_prefix" --silent --no-audit --no-fund $aws_jwt_verify_requirement
    printf '%s' "$aws_jwt_verify_requirement" >"$npm_stamp"
fi
echo "==> $aws_jwt_verify_requirement under node $(node --version) at $npm_prefix"

# The revocation tests (tests/revocation.rs) run Debian's redis-server, each on its own port.
if ! command -v redis-server >/dev/null 2>&1; then
    echo "==> installing redis-server (apt-get)"
    sudo_cmd=""
    if [[ "$(id -u)" != 0 ]]; then sudo_cmd="sudo"; fi
    $sudo_cmd apt-get update -qq
    $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
echo "==> $(redis-server --version)"

# The weak-key tests (tests/verify_checks.rs) make an RSA key with exponent 3 with Debian's
# openssl: aws-lc-rs generates keys with exponent 65537 only.
if ! command -v openssl >/dev/null 2>&1; then
    echo "==> installing openssl (apt-get)"
    sudo_cmd=""
    if [[ "$(id -u)" != 0 ]]; then sudo_cmd="sudo"; fi
    $sudo_cmd apt-get update -qq
    $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
fi
echo "==> $(openssl version)"

# The decoder's proptests under emulated CPUs (crates/core/src/verify/jwt.rs).
if [[ "$(uname -m)" == x86_64 ]] && ! command -v qemu-x86_64 >/dev/null 2>&1; then
    echo "==> installing qemu-user (apt-get)"
    sudo_cmd=""
    if [[ "$(id -u)" != 0 ]]; then sudo_cmd="sudo"; fi
    $sudo_cmd apt-get update -qq
    $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-user >/dev/null
fi
if [[ "$(uname -m)" == x86_64 ]]; then
    echo "==> $(qemu-x86_64 --version | head -n 1)"
fi

echo "==> cargo test --workspace --all-features"
COGNITO_AUTHZ_MOTO="$venv/bin/moto_server" \
COGNITO_AUTHZ_TOOLS_PYTHON="$tools_venv/bin/python" \
COGNITO_AUTHZ_CARGO_LAMBDA="$tools_venv/bin/cargo-lambda" \
COGNITO_AUTHZ_NODE_MODULES="$npm_prefix/node_modules" \
    cargo test --workspace --all-features "$@"

# The lambda_http suites again with the features the README gives lambda_http users (`tower`,
# `lambda-http`, no `axum`): a layer inside an axum nest reads another path without `axum`.
# Skipped when arguments pick tests of the run above; cargo-lambda's own test ran there.
if [[ $# -eq 0 ]]; then
    echo "==> cargo test -p cognito-authz-tower --features lambda-http (without axum)"
    cargo test -p cognito-authz-tower --features lambda-http \
        --test lambda --test lambda_stage_attacks --test lambda_token_attacks \
        --test lambda_ignore_stage_attacks -- --skip cargo_lambda_watch_and_invoke
fi
