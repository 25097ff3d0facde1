#!/usr/bin/env bash
# Runs every test of the workspace, doctests included, on a fresh machine or a warm one.
#
# The interop tests (tests/moto_interop.rs) run moto's Cognito server, a Python package: it is
# installed once into target/moto-venv and reused while its version still matches the pin. The
# revocation tests (tests/revocation.rs) run Debian's `redis-server`, installed with apt-get
# when missing.
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

# The revocation tests (tests/revocation.rs) run Debian's redis-server, each on its own port.
if ! command -v redis-server >/dev/null 2>&1; then
    echo "==> installing redis-server (apt-get)"
    sudo_cmd=""
    if [[ "$(id -u)" != 0 ]]; then sudo_cmd="sudo"; fi
    $sudo_cmd apt-get update -qq
    $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
echo "==> $(redis-server --version)"

echo "==> cargo test --workspace --all-features"
COGNITO_AUTHZ_MOTO="$venv/bin/moto_server" cargo test --workspace --all-features "$@"
