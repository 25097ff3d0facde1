//! The text of a random route table, and the principal of a random case, for the searches
//! over what the cache-safe policy grants.

use cognito_authz_testkit::LocalIssuer;

/// The token of principal `principal` of a random case: none (0), a signed-in user (1), an
/// administrator (2 and above).
pub(crate) fn principal_token(issuer: &LocalIssuer, principal: usize) -> Option<String> {
    match principal {
        0 => None,
        1 => Some(issuer.access_token().sign()),
        _ => Some(issuer.access_token().groups(["admin"]).sign()),
    }
}

/// The route table `routes` names: each route `(methods, segments, policy)` picks its methods
/// line, its pattern's segments and its policy by index (modulo each list's length); a
/// catch-all anywhere but last is written as `stand_in` instead. `unmatched` is the policy of
/// `[defaults] unmatched`.
pub(crate) fn text(
    alphabet: &[&str],
    stand_in: &str,
    methods: &[&str],
    policies: &[&str],
    routes: &[(usize, Vec<usize>, usize)],
    unmatched: &str,
) -> String {
    let mut text = format!("[defaults]\nunmatched = \"{unmatched}\"\n");
    for (methods_index, segments, policy) in routes {
        let mut path = String::new();
        for (depth, segment) in segments.iter().enumerate() {
            let segment = alphabet[*segment % alphabet.len()];
            if segment.starts_with("{*") && depth + 1 != segments.len() {
                path.push_str(stand_in);
            } else {
                path.push('/');
                path.push_str(segment);
            }
        }
        if path.is_empty() {
            path.push('/');
        }
        text.push_str(&format!(
            "\n[[route]]\npath = \"{path}\"\n{}require = \"{}\"\n",
            methods[*methods_index % methods.len()],
            policies[*policy % policies.len()]
        ));
    }
    text
}
