//! The programs from outside Rust some tests run (installed by `scripts/test.sh` under
//! `target/` or from Debian's packages, or named by an environment variable), found or failed
//! for with the command that installs them: a test that needs one never skips itself.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Runs `command` with `input` as its standard input, to the end; its status and output.
///
/// # Panics
/// The program cannot be started or its input written.
#[must_use]
pub fn output_with_input(mut command: Command, input: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {command:?}: {error}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("input written");
    child.wait_with_output().expect("the program finishes")
}

/// The repository's root folder.
#[must_use]
pub fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The path in `variable`, else `default` under the repository root; it must hold `needed`
/// (`""`: be a file itself).
///
/// # Panics
/// Nothing is there: the message names `what` is missing and the command that installs it.
fn installed(variable: &str, default: &str, needed: &str, what: &str) -> PathBuf {
    let path =
        std::env::var_os(variable).map_or_else(|| repository_root().join(default), PathBuf::from);
    let file = if needed.is_empty() {
        path.clone()
    } else {
        path.join(needed)
    };
    assert!(
        file.is_file(),
        "{what} not found at {}: run `scripts/test.sh` (it installs it under target/ and runs \
         the tests), or set {variable} to {what}",
        file.display()
    );
    path
}

/// The Python of `target/tools-venv` (or `COGNITO_AUTHZ_TOOLS_PYTHON`), with grpcio,
/// openapi-spec-validator and cedarpy.
///
/// # Panics
/// There is none: the message says how to install it.
#[must_use]
pub fn tools_python() -> PathBuf {
    installed(
        "COGNITO_AUTHZ_TOOLS_PYTHON",
        "target/tools-venv/bin/python",
        "",
        "a Python with `pip install grpcio openapi-spec-validator cedarpy`",
    )
}

/// cargo-lambda from `target/tools-venv` (or `COGNITO_AUTHZ_CARGO_LAMBDA`).
///
/// # Panics
/// There is none: the message says how to install it.
#[must_use]
pub fn cargo_lambda() -> PathBuf {
    installed(
        "COGNITO_AUTHZ_CARGO_LAMBDA",
        "target/tools-venv/bin/cargo-lambda",
        "",
        "cargo-lambda (`pip install cargo-lambda`)",
    )
}

/// moto's server from `target/moto-venv` (or `COGNITO_AUTHZ_MOTO`).
///
/// # Panics
/// There is none: the message says how to install it.
#[must_use]
pub fn moto_server() -> PathBuf {
    installed(
        "COGNITO_AUTHZ_MOTO",
        "target/moto-venv/bin/moto_server",
        "",
        "moto_server (`pip install 'moto[server]'`)",
    )
}

/// The `node_modules` folder of `target/npm` (or `COGNITO_AUTHZ_NODE_MODULES`), holding
/// `package` (a path inside it, such as `aws-jwt-verify/package.json`).
///
/// # Panics
/// It does not hold it: the message says how to install it.
#[must_use]
pub fn node_modules(package: &str) -> PathBuf {
    installed(
        "COGNITO_AUTHZ_NODE_MODULES",
        "target/npm/node_modules",
        package,
        "a node_modules folder holding it",
    )
}

/// A fresh RSA private key of `bits` bits with the public exponent `exponent`, in DER (load it
/// with `SigningKey::from_der`), made by `openssl genpkey`: aws-lc-rs only generates keys with
/// the exponent 65537.
///
/// # Panics
/// `openssl` is not installed (`apt-get install openssl`; `scripts/test.sh` installs it) or
/// refuses the parameters.
#[must_use]
pub fn openssl_rsa_key(bits: u32, exponent: u32) -> Vec<u8> {
    let output = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-outform",
            "DER",
            "-pkeyopt",
        ])
        .arg(format!("rsa_keygen_bits:{bits}"))
        .arg("-pkeyopt")
        .arg(format!("rsa_keygen_pubexp:{exponent}"))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "cannot run openssl ({error}): run `scripts/test.sh` (it installs it), or \
                 `apt-get install openssl`"
            )
        });
    assert!(
        output.status.success() && !output.stdout.is_empty(),
        "openssl genpkey failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

const VALIDATE_OPENAPI: &str = r#"
import json, sys
from openapi_spec_validator import validate
from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator
spec = json.load(sys.stdin)
try:
    validate(spec, cls=OpenAPIV31SpecValidator)
except Exception as error:
    print(f"INVALID: {error}")
    sys.exit(1)
print("VALID")
"#;

/// Whether openapi-spec-validator (an independent validator, from PyPI) accepts `document` as
/// OpenAPI 3.1; its message if not.
///
/// # Panics
/// The validator is not installed or does not run.
pub fn validate_openapi(document: &serde_json::Value) -> Result<(), String> {
    let mut python = Command::new(tools_python());
    python.args(["-c", VALIDATE_OPENAPI]);
    let output = output_with_input(python, document.to_string().as_bytes());
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.is_empty() || output.status.success() || stdout.starts_with("INVALID"),
        "openapi-spec-validator did not run; run `scripts/test.sh` to install it into \
         target/tools-venv. stderr:\n{stderr}"
    );
    if stdout.trim() == "VALID" {
        Ok(())
    } else {
        Err(format!("{stdout}{stderr}"))
    }
}
