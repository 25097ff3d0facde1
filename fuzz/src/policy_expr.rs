//! Target `policy_expr`: any bytes (lossy UTF-8) as a policy expression.

use std::sync::{Arc, OnceLock};

use cognito_authz_core::{CompiledPolicy, Evaluation, Policy, PolicySet, VerifiedToken};
use serde_json::{Value, json};

use crate::fixture::{KID, sign, valid_access_payload, valid_header, valid_id_payload, verifiers};
use crate::oracle::complete;

/// The named policies `policy_expr` compiles against: a reference chain, a public one (and an
/// alias of it), a negative scope and quoted names.
pub const POLICY_SET: [(&str, &str); 7] = [
    ("admin", "group:admin"),
    ("reader", "scope:api/read or policy:admin"),
    ("open", "public"),
    ("open_alias", "policy:open"),
    ("no_banned", "not scope:api/banned"),
    ("team", r#"group:"team blue" and claim:custom:tenant=acme"#),
    (
        "careful",
        "policy:reader and policy:no_banned and not token_use:id",
    ),
];

pub(crate) fn policy_set() -> &'static PolicySet {
    static SET: OnceLock<PolicySet> = OnceLock::new();
    SET.get_or_init(|| {
        PolicySet::from_policies(POLICY_SET.iter().map(|(name, text)| {
            let policy: Policy = text.parse().expect("a valid named policy");
            (*name, policy)
        }))
        .expect("a valid policy set")
    })
}

/// Verified tokens the compiled policies are evaluated against: an access token with scopes,
/// groups (one with a space) and custom claims of every JSON type, and an id token.
pub(crate) fn policy_tokens() -> &'static [Arc<VerifiedToken>] {
    static TOKENS: OnceLock<Vec<Arc<VerifiedToken>>> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let extend = |payload: String, extra: Value| {
            let mut value: Value = serde_json::from_str(&payload).expect("json");
            let map = value.as_object_mut().expect("object");
            for (name, member) in extra.as_object().expect("object") {
                map.insert(name.clone(), member.clone());
            }
            value.to_string()
        };
        let access = extend(
            valid_access_payload(),
            json!({
                "scope": "api/read openid",
                "cognito:groups": ["admin", "team blue"],
                "custom:tenant": "acme",
                "custom:n": 42,
                "custom:f": 1.5,
                "custom:flag": true,
                "custom:none": null,
                "custom:list": ["a", 1, false, null, {"x": 1}],
                "custom:obj": {"k": "v"},
            }),
        );
        let id = extend(
            valid_id_payload(),
            json!({"cognito:groups": ["team blue"], "custom:tenant": "other"}),
        );
        [access, id]
            .iter()
            .map(|payload| {
                complete(
                    verifiers()
                        .uncached
                        .verify(&sign(&valid_header(KID), payload)),
                )
                .expect("a valid token of the fuzz pool")
            })
            .collect()
    })
}

/// Target `policy_expr`: the bytes (lossy UTF-8) as a policy expression.
pub fn policy_expr_bytes(data: &[u8]) {
    policy_expr(&String::from_utf8_lossy(data));
}

/// Parses `text` and checks the parser's and the compiler's promises:
/// - an error's column lies within `1..=chars + 1` and its text is `column N: MESSAGE`;
/// - a parsed policy prints to text that parses to an equal policy and prints identically;
/// - compiling against [`POLICY_SET`] (and against an empty set) never panics; a compiled policy
///   keeps the printed text, evaluates every token without panicking, with `insufficient_scope`
///   only when it has required scopes (and listing exactly those), a public one allows all,
///   `explain` agrees with `evaluate`, and the effective (inlined) form, when it parses, compiles
///   without the set to a policy that decides every token the same way;
/// - a policy that compiles without the set compiles with it, to the same decisions.
pub fn policy_expr(text: &str) {
    let policy = match text.parse::<Policy>() {
        Ok(policy) => policy,
        Err(error) => {
            let chars = text.chars().count();
            assert!(
                (1..=chars + 1).contains(&error.column),
                "error column {} outside 1..={} for {text:?}: {error}",
                error.column,
                chars + 1
            );
            assert!(!error.message.is_empty(), "an error without a message");
            assert_eq!(
                error.to_string(),
                format!("column {}: {}", error.column, error.message)
            );
            return;
        }
    };
    let printed = policy.to_string();
    let reparsed: Policy = printed
        .parse()
        .unwrap_or_else(|error| panic!("printed form {printed:?} does not parse: {error}"));
    assert_eq!(reparsed, policy, "print -> parse changed the policy");
    assert_eq!(reparsed.to_string(), printed, "print -> parse -> print");

    let with_set = policy_set().compile(&policy);
    if let Ok(compiled) = &with_set {
        check_compiled(compiled, &printed);
        if policy.is_public() {
            assert!(
                compiled.is_public(),
                "`public` compiled to a non-public policy"
            );
        }
    }
    if let Ok(alone) = policy.compile() {
        check_compiled(&alone, &printed);
        let Ok(compiled) = &with_set else {
            panic!("compiles without the set but not with it: {with_set:?}");
        };
        assert_eq!(alone.is_public(), compiled.is_public());
        assert_eq!(alone.required_scopes(), compiled.required_scopes());
        for token in policy_tokens() {
            assert_eq!(alone.evaluate(token), compiled.evaluate(token));
        }
    }
}

/// The promises of a compiled policy (see [`policy_expr`]).
fn check_compiled(compiled: &CompiledPolicy, printed: &str) {
    assert_eq!(
        compiled.text(),
        printed,
        "compiled text is not the printed form"
    );
    let scopes = compiled.required_scopes();
    for (index, scope) in scopes.iter().enumerate() {
        assert!(
            !scopes[..index].contains(scope),
            "required scopes repeat {scope:?}"
        );
    }
    let decisions: Vec<Evaluation> = policy_tokens()
        .iter()
        .map(|token| {
            let evaluation = compiled.evaluate(token);
            if compiled.is_public() {
                assert_eq!(evaluation, Evaluation::Allow, "a public policy denied");
            }
            if let Evaluation::InsufficientScope(listed) = &evaluation {
                assert!(!listed.is_empty(), "insufficient_scope without scopes");
                assert_eq!(&listed[..], scopes, "challenge scopes differ from required");
            }
            assert_eq!(
                compiled.explain(token).allowed,
                evaluation.is_allowed(),
                "explain and evaluate disagree"
            );
            evaluation
        })
        .collect();
    let effective = compiled.effective();
    if let Ok(inlined) = effective.parse::<Policy>() {
        let inlined = inlined.compile().unwrap_or_else(|error| {
            panic!("effective form {effective:?} does not compile on its own: {error}")
        });
        assert_eq!(inlined.is_public(), compiled.is_public());
        assert_eq!(
            inlined.required_scopes(),
            scopes,
            "inlining changed the scopes"
        );
        for (token, decision) in policy_tokens().iter().zip(&decisions) {
            assert_eq!(
                &inlined.evaluate(token),
                decision,
                "the effective form {effective:?} decides otherwise"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_set_compiles_and_the_policy_tokens_verify() {
        assert_eq!(policy_set().len(), POLICY_SET.len());
        assert_eq!(policy_tokens().len(), 2);
        policy_expr("policy:careful or policy:team");
    }
}
