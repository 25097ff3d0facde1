#!/usr/bin/env bash
# Runs every test of the workspace, doctests included, on a fresh machine or a warm one.
#
# The interop tests (tests/moto_interop.rs) run moto's Cognito server, a Python package: it is
# installed once into target/moto-venv and reused while its version still matches the pin.
# The browser tests (tests/cookie_csrf) drive a headless Chromium: Debian's `chromium` package
# is installed when no Chromium is found (as root, or through sudo).
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

echo "==> cargo test --workspace --all-features"
COGNITO_AUTHZ_MOTO="$venv/bin/moto_server" cargo test --workspace --all-features "$@"
