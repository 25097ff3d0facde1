//! Target `policy_file`: any bytes (lossy UTF-8) as a TOML policy file.

use cognito_authz_core::{CompiledPolicy, Policy, PolicyFile};
use http::Method;

/// The folder relative `jwks_file` paths resolve against. Never read: `PolicyFile::parse` only
/// joins paths (key files are read by `load_key_files`, which the target does not call).
pub const POLICY_FILE_BASE_DIR: &str = "/nonexistent/cognito-authz-fuzz";
/// The label errors name.
pub const POLICY_FILE_LABEL: &str = "fuzz.toml";

/// Target `policy_file`: the bytes (lossy UTF-8) as a policy file.
pub fn policy_file_bytes(data: &[u8]) {
    policy_file(&String::from_utf8_lossy(data));
}

/// Loads `text` as a policy file and checks:
/// - an error names [`POLICY_FILE_LABEL`], a line within the text and a column within that line
///   (both 1-based; the column may be one past the line's last character);
/// - a loaded file has issuers with distinct names, and every route's policy, the unmatched
///   default and every named policy prints to text that parses back to the same text and
///   compiles against the file's named policies to the same scopes, publicness and effective
///   form;
/// - a route with a plain static pattern is what a lookup of that very path finds, for the
///   route's first method (GET when it has none).
pub fn policy_file(text: &str) {
    let file = match PolicyFile::parse(text, POLICY_FILE_BASE_DIR, POLICY_FILE_LABEL) {
        Ok(file) => file,
        Err(error) => {
            assert_eq!(
                error.location().map(cognito_authz_core::Location::file),
                Some(POLICY_FILE_LABEL)
            );
            let lines: Vec<&str> = text.split('\n').collect();
            assert!(
                (1..=lines.len()).contains(&error.line()),
                "error line {} outside 1..={}: {error}",
                error.line(),
                lines.len()
            );
            let width = lines[error.line() - 1].chars().count();
            assert!(
                (1..=width + 1).contains(&error.column()),
                "error column {} outside 1..={} of line {}: {error}",
                error.column(),
                width + 1,
                error.line()
            );
            assert!(!error.message().is_empty(), "an error without a message");
            return;
        }
    };
    assert_eq!(file.label(), POLICY_FILE_LABEL);
    let issuers = file.issuers();
    assert!(!issuers.is_empty(), "a file without issuers loaded");
    for (index, issuer) in issuers.iter().enumerate() {
        assert!(!issuer.name().is_empty(), "an issuer with an empty name");
        assert!(
            issuers[..index]
                .iter()
                .all(|other| other.name() != issuer.name()),
            "two issuers named {:?}",
            issuer.name()
        );
    }
    let table = file.routes();
    let set = table.policies();
    let reparse = |what: &str, compiled: &CompiledPolicy| {
        let text = compiled.text();
        let policy: Policy = text
            .parse()
            .unwrap_or_else(|error| panic!("{what}: policy {text:?} does not re-parse: {error}"));
        assert_eq!(policy.to_string(), text, "{what}: print -> parse -> print");
        let again = set
            .compile(&policy)
            .unwrap_or_else(|error| panic!("{what}: {text:?} does not compile again: {error}"));
        assert_eq!(again.is_public(), compiled.is_public(), "{what}");
        assert_eq!(
            again.required_scopes(),
            compiled.required_scopes(),
            "{what}"
        );
        assert_eq!(again.effective(), compiled.effective(), "{what}");
    };
    for route in table.routes() {
        reparse(&format!("route {:?}", route.pattern()), route.policy());
        let pattern = route.pattern();
        if !pattern.contains(['{', '}', '*', ':']) {
            let method = route
                .methods()
                .and_then(<[Method]>::first)
                .unwrap_or(&Method::GET);
            let found = table.lookup(method, pattern);
            assert_eq!(
                found.pattern(),
                Some(pattern),
                "{method} {pattern} does not find its own static route"
            );
        }
    }
    reparse("defaults.unmatched", table.unmatched());
    for name in set.names() {
        let policy = set.get(name).expect("a listed name is defined");
        let text = policy.to_string();
        let reparsed: Policy = text
            .parse()
            .unwrap_or_else(|error| panic!("policy {name:?}: {text:?} does not re-parse: {error}"));
        assert_eq!(&reparsed, policy, "policy {name:?}: print -> parse");
    }
    let _ = file.to_string();
    let _ = file.token_source().header_name();
}
