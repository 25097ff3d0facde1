//! An IAM policy evaluator for the tests, written independently of the crate's policy
//! compiler: how API Gateway applies a Lambda authorizer's returned policy to a `methodArn`.
//! Shared by `crates/lambda/tests/*.rs` and the root `tests/front_doors.rs`.

use serde_json::Value;

/// IAM's wildcard match: `*` any run of characters, `?` one.
pub(crate) fn wildcard(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            wildcard(&pattern[1..], text) || (!text.is_empty() && wildcard(pattern, &text[1..]))
        }
        (Some(b'?'), Some(_)) => wildcard(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) if p == t => wildcard(&pattern[1..], &text[1..]),
        _ => false,
    }
}

fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// How API Gateway applies a returned policy to a request's `methodArn`: an explicit Deny
/// wins, then any Allow, else denied.
pub(crate) fn iam_allows(response: &Value, arn: &str) -> bool {
    let mut allowed = false;
    let statements = response["policyDocument"]["Statement"]
        .as_array()
        .expect("Statement array");
    for statement in statements {
        let action = strings(&statement["Action"])
            .iter()
            .any(|action| wildcard(action.as_bytes(), b"execute-api:Invoke"));
        let resource = strings(&statement["Resource"])
            .iter()
            .any(|resource| wildcard(resource.as_bytes(), arn.as_bytes()));
        if action && resource {
            match statement["Effect"].as_str() {
                Some("Deny") => return false,
                Some("Allow") => allowed = true,
                other => panic!("unknown effect {other:?}"),
            }
        }
    }
    allowed
}
