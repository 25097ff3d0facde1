//! The authorizer and token of the request benches (`http.rs`) and their instruction counts
//! (`instructions.rs`), so both measure the same thing.

use cognito_authz::{AcceptedTokenUse, Authorizer, Policy};
use cognito_authz_testkit::LocalIssuer;
use http::Method;

/// The benches' routes (`GET /reports/{id}` needs scope `reports/read`), with or without the
/// verified-token cache.
pub(crate) fn authorizer(issuer: &LocalIssuer, cache: bool) -> Authorizer {
    let mut verifier = issuer.verifier_builder(AcceptedTokenUse::Access);
    if cache {
        verifier = verifier.verified_token_cache(1024);
    }
    Authorizer::builder()
        .verifier(verifier.build().expect("verifier"))
        .route("/health", Policy::public())
        .route("/admin/{*rest}", "group:admin".parse().expect("policy"))
        .route_methods(
            [Method::GET],
            "/reports/{id}",
            "scope:reports/read".parse().expect("policy"),
        )
        .build()
        .expect("authorizer")
}

/// The local issuer (system clock: the peers check `exp` against it) and the token every request
/// carries.
pub(crate) fn fixture() -> (LocalIssuer, String) {
    let issuer = LocalIssuer::builder()
        .system_clock()
        .offline()
        .expect("issuer");
    let token = issuer
        .access_token()
        .username("alice")
        .groups(["staff"])
        .scopes(["openid", "reports/read"])
        .sign();
    (issuer, token)
}
