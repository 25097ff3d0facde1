//! What every verification must satisfy, checked independently of the verifier's code: the
//! same decision with and without the verified-token cache, rejections that are invalid-token
//! kinds, and accepted tokens that obey the verification rules.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use cognito_authz_core::dangerous::decode_unverified;
use cognito_authz_core::{Error, ErrorKind, VerifiedToken};
use serde_json::{Value, json};

use crate::fixture::{CLIENT_ID, ISS, KID, MAX_TOKEN_BYTES, NOW_SECS, UPDATED_ISS, verifiers};

/// Runs a future that must complete without waiting: verification against a static key set
/// never awaits (keys come from memory; only a fetch waits), so `Pending` is a bug.
pub fn complete<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("verification against a static key set awaited"),
    }
}

/// Which token, if any, a run may accept.
#[derive(Debug, Clone, Copy)]
pub(crate) enum MayAccept<'a> {
    /// Unknown (random bytes): acceptance is checked against the contract only.
    AnyValid,
    /// Only exactly this string (the one that was signed), and only if it obeys the contract.
    Exactly(&'a str),
    /// Nothing (e.g. signed with another digest than the header claims).
    Nothing,
}

pub(crate) fn decision(outcome: &Result<Arc<VerifiedToken>, Error>) -> Result<(), ErrorKind> {
    outcome.as_ref().map(|_| ()).map_err(Error::kind)
}

/// Verifies `token` three ways (cached verifier twice, so an accepted token also goes through a
/// cache hit; uncached once) and checks every invariant.
pub(crate) fn check_token(token: &str, may_accept: MayAccept<'_>) {
    let verifiers = verifiers();
    let first = complete(verifiers.cached.verify(token));
    let again = complete(verifiers.cached.verify(token));
    let uncached = complete(verifiers.uncached.verify(token));
    assert_eq!(
        decision(&first),
        decision(&uncached),
        "the verified-token cache changed a decision"
    );
    assert_eq!(
        decision(&first),
        decision(&again),
        "a repeated token got another decision"
    );
    match &first {
        Err(error) => {
            assert!(
                error.kind().is_invalid_token(),
                "a static key set produced {} ({})",
                error.code(),
                error.detail()
            );
            if token.len() <= MAX_TOKEN_BYTES && decode_unverified(token).is_err() {
                assert_eq!(
                    error.kind(),
                    ErrorKind::MalformedToken,
                    "decode_unverified and the verifier disagree on structure"
                );
            }
        }
        Ok(verified) => {
            match may_accept {
                MayAccept::AnyValid => {}
                MayAccept::Exactly(signed) => assert_eq!(
                    token, signed,
                    "accepted a token other than the one that was signed"
                ),
                MayAccept::Nothing => panic!("accepted a token that must be rejected"),
            }
            assert_contract(token, verified);
        }
    }
}

/// What every accepted token must satisfy, checked independently of the verifier's code.
pub(crate) fn assert_contract(token: &str, verified: &VerifiedToken) {
    assert!(
        token.len() <= MAX_TOKEN_BYTES,
        "accepted an oversized token"
    );
    let Ok((header, payload)) = decode_unverified(token) else {
        panic!("accepted a token decode_unverified rejects");
    };
    assert_eq!(header.get("alg"), Some(&json!("RS256")), "accepted alg");
    assert_eq!(
        header.get("kid").and_then(Value::as_str),
        Some(KID),
        "accepted kid"
    );
    assert!(!header.contains_key("crit"), "accepted a crit header");
    let iss = payload
        .get("iss")
        .and_then(Value::as_str)
        .expect("accepted without a string iss");
    assert!(iss == ISS || iss == UPDATED_ISS, "accepted iss {iss:?}");
    let now = NOW_SECS as f64;
    let number = |name: &str| {
        payload.get(name).map(|value| {
            value
                .as_f64()
                .unwrap_or_else(|| panic!("accepted a non-number {name}"))
        })
    };
    let exp = number("exp").expect("accepted without exp");
    assert!(now < exp, "accepted an expired token");
    assert!(number("nbf").is_none_or(|nbf| nbf <= now), "accepted nbf");
    assert!(number("iat").is_none_or(|iat| iat <= now), "accepted iat");
    let _ = number("auth_time");
    for name in [
        "sub",
        "client_id",
        "scope",
        "username",
        "cognito:username",
        "jti",
        "origin_jti",
    ] {
        assert!(
            payload.get(name).is_none_or(Value::is_string),
            "accepted a non-string {name}"
        );
    }
    if let Some(groups) = payload.get("cognito:groups") {
        assert!(
            groups
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_string)),
            "accepted cognito:groups that is not an array of strings"
        );
    }
    let client = |name: &str| payload.get(name).and_then(Value::as_str);
    match payload.get("token_use").and_then(Value::as_str) {
        Some("id") => assert_eq!(client("aud"), Some(CLIENT_ID), "accepted id token aud"),
        Some("access") => assert_eq!(
            client("client_id"),
            Some(CLIENT_ID),
            "accepted access token client_id"
        ),
        other => panic!("accepted token_use {other:?}"),
    }
    assert_eq!(verified.kid(), KID);
    assert_eq!(verified.issuer(), iss);
    assert!(verified.expires_at() == exp);
    assert_eq!(verified.payload(), payload, "verified claims differ");
    assert_claims_read_alike(&payload, verified);
}

/// Every claim the verified token exposes is what a generic parse of the payload says,
/// exactly (numbers by their bits, so `-0` and `0` differ): the verifier's own reader and
/// serde_json read the same text alike.
fn assert_claims_read_alike(payload: &serde_json::Map<String, Value>, verified: &VerifiedToken) {
    let text = |name: &str| payload.get(name).and_then(Value::as_str);
    let bits = |name: &str| payload.get(name).and_then(Value::as_f64).map(f64::to_bits);
    let strings = |name: &str| -> Vec<&str> {
        match payload.get(name) {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    };
    assert_eq!(Some(verified.issuer()), text("iss"), "iss read differently");
    assert_eq!(verified.sub(), text("sub"), "sub read differently");
    assert_eq!(
        verified.username(),
        text("cognito:username").or(text("username")),
        "user name read differently"
    );
    assert_eq!(verified.jti(), text("jti"), "jti read differently");
    assert_eq!(
        verified.origin_jti(),
        text("origin_jti"),
        "origin_jti read differently"
    );
    assert_eq!(verified.email(), text("email"), "email read differently");
    assert_eq!(
        Some(verified.expires_at().to_bits()),
        bits("exp"),
        "exp read differently"
    );
    assert_eq!(
        verified.not_before().map(f64::to_bits),
        bits("nbf"),
        "nbf read differently"
    );
    assert_eq!(
        verified.issued_at().map(f64::to_bits),
        bits("iat"),
        "iat read differently"
    );
    assert_eq!(
        verified.auth_time().map(f64::to_bits),
        bits("auth_time"),
        "auth_time read differently"
    );
    let groups: Vec<&str> = verified.groups().iter().collect();
    assert_eq!(groups, strings("cognito:groups"), "groups read differently");
    let audiences: Vec<&str> = verified.audiences().iter().collect();
    assert_eq!(audiences, strings("aud"), "aud read differently");
    let mut scopes: Vec<&str> = text("scope")
        .map(|scope| scope.split(' ').filter(|word| !word.is_empty()).collect())
        .unwrap_or_default();
    scopes.sort_unstable();
    scopes.dedup();
    let read: Vec<&str> = verified.scopes().iter().collect();
    assert_eq!(read, scopes, "scopes read differently");
    let client = match text("token_use") {
        Some("id") => audiences.first().copied(),
        _ => text("client_id"),
    };
    assert_eq!(verified.client_id(), client, "client read differently");
}
