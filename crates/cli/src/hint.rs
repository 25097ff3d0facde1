//! What to do next when a token is rejected: the mistakes the CLI can recognise (a pasted
//! `Bearer ` prefix, quotes around the token) and, for the checks that compare a claim with
//! the configuration, the token's own value next to what was expected.
//!
//! The CLI is a local tool run by the token's holder, so showing the token's `iss` or `exp`
//! back is fine here; HTTP responses and logs never carry them.

use std::time::{SystemTime, UNIX_EPOCH};

use cognito_authz_core::dangerous::decode_unverified;
use cognito_authz_core::{ErrorKind, IssuerConfig};
use serde_json::Value;

/// A hint about the shape of the token as given, before any check: what looks pasted from a
/// header or a JSON document rather than the bare token.
pub(crate) fn token_shape(token: &str) -> Option<&'static str> {
    let lower = token.get(..7).map(str::to_ascii_lowercase);
    if lower.as_deref() == Some("bearer ") {
        return Some(
            "the token starts with \"Bearer \": pass the token alone, e.g. \"${TOKEN#Bearer }\" \
             (the Authorization header carries \"Bearer <token>\"; the command line takes the token)",
        );
    }
    if token.to_ascii_lowercase().starts_with("authorization:") {
        return Some("this is a whole header line: pass only the token after \"Bearer \"");
    }
    let quoted =
        |quote: char| token.len() >= 2 && token.starts_with(quote) && token.ends_with(quote);
    if quoted('"') || quoted('\'') {
        return Some(
            "the token is wrapped in quotes (copied from JSON?): pass it without them, e.g. \
             jq -r .access_token",
        );
    }
    None
}

/// Lines that explain a rejection with the token's own claims: for `invalid_issuer` its `iss`
/// and the accepted issuers; for the time checks the claim and the clock; for `invalid_client`
/// the token's client.
pub(crate) fn rejection(
    kind: ErrorKind,
    token: &str,
    issuers: &[IssuerConfig],
    now: Option<u64>,
) -> Vec<String> {
    let Ok((_, payload)) = decode_unverified(token) else {
        return Vec::new();
    };
    let now = now.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs())
    });
    let claim = |name: &str| match payload.get(name) {
        None => "(absent)".to_owned(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    };
    let seconds = |name: &str| payload.get(name).and_then(Value::as_f64);
    match kind {
        ErrorKind::InvalidIssuer => {
            let accepted: Vec<String> = issuers.iter().flat_map(IssuerConfig::issuers).collect();
            vec![
                format!("token iss: {}", claim("iss")),
                format!("accepted:  {}", accepted.join(", ")),
                "hint: --user-pool-id (or the policy file's user_pool_id) must be the pool that \
                 issued the token; its id is the last part of the token's iss"
                    .to_owned(),
            ]
        }
        ErrorKind::Expired => {
            let mut lines = vec![
                format!("token exp: {}", claim("exp")),
                format!("now:       {now}"),
            ];
            if let Some(exp) = seconds("exp") {
                lines.push(format!(
                    "expired {} s ago; get a fresh token (Cognito's last an hour by default), \
                     or pass --now to check it at another time",
                    (now as f64 - exp).max(0.0) as u64
                ));
            }
            lines
        }
        ErrorKind::NotYetValid => vec![
            format!("token nbf: {}", claim("nbf")),
            format!("now:       {now}"),
        ],
        ErrorKind::IssuedInFuture => vec![
            format!("token iat: {}", claim("iat")),
            format!("now:       {now}"),
            "hint: a token minted with --now is issued at that time: verify with the same --now"
                .to_owned(),
        ],
        ErrorKind::InvalidClient => vec![
            format!("token aud:       {}", claim("aud")),
            format!("token client_id: {}", claim("client_id")),
        ],
        ErrorKind::InvalidTokenUse => vec![format!("token token_use: {}", claim("token_use"))],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_headers_and_quotes_get_a_hint_and_bare_tokens_none() {
        for token in [
            "Bearer eyJ.a.b",
            "bearer eyJ.a.b",
            "Authorization: Bearer eyJ.a.b",
            "\"eyJ.a.b\"",
            "'eyJ.a.b'",
        ] {
            assert!(token_shape(token).is_some(), "{token}");
        }
        for token in ["eyJ.a.b", "", "\"", "Bear", "é"] {
            assert!(token_shape(token).is_none(), "{token}");
        }
    }
}
