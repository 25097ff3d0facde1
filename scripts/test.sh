#!/usr/bin/env bash
# Runs every test of the workspace, doctests included, on a fresh machine or a warm one.
#
# The interop tests (tests/moto_interop.rs) run moto's Cognito server, a Python package: it is
# installed once into target/moto-venv and reused while its version still matches the pin.
# The Lambda authorizer's end-to-end test (crates/lambda/tests/cargo_lambda.rs) runs the example
# under `cargo lambda watch`: cargo-lambda, a PyPI package, is installed into
# target/cargo-lambda-venv the same way.
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

# Verified with cargo-lambda 1.9.2 (watch's runtime emulator and invoke, both on 127.0.0.1).
cargo_lambda_requirement='cargo-lambda>=1.9.2,<2'
lambda_venv="$root/target/cargo-lambda-venv"
lambda_stamp="$lambda_venv/.installed-requirement"
if [[ ! -x "$lambda_venv/bin/cargo-lambda" || "$(cat "$lambda_stamp" 2>/dev/null)" != "$cargo_lambda_requirement" ]]; then
    echo "==> installing $cargo_lambda_requirement into $lambda_venv"
    rm -rf "$lambda_venv"
    "$python" -m venv "$lambda_venv"
    "$lambda_venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        --no-input "$cargo_lambda_requirement"
    printf '%s' "$cargo_lambda_requirement" >"$lambda_stamp"
fi
echo "==> $("$lambda_venv/bin/cargo-lambda" lambda --version) at $lambda_venv"

# The ALB verifier's differential test (crates/core/tests/alb.rs) runs aws-jwt-verify's
# AlbJwtVerifier under node: installed with npm into target/npm (node and npm from Debian's
# packages when the machine has none).
aws_jwt_verify_requirement='aws-jwt-verify@5.2.1'
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
    npm install --prefix "$npm_prefix" --silent --no-audit --no-fund "$aws_jwt_verify_requirement"
    printf '%s' "$aws_jwt_verify_requirement" >"$npm_stamp"
fi
echo "==> $aws_jwt_verify_requirement under node $(node --version) at $npm_prefix"

echo "==> cargo test --workspace --all-features"
COGNITO_AUTHZ_MOTO="$venv/bin/moto_server" \
    COGNITO_AUTHZ_NODE_MODULES="$npm_prefix/node_modules" \
    COGNITO_AUTHZ_CARGO_LAMBDA="$lambda_venv/bin/cargo-lambda" \
    cargo test --workspace --all-features "$@"
