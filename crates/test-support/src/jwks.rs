//! The harness of the JWKS tests: a local issuer with a key server, its server's switches, the
//! verifier's fetch counters and the issuer's manual clock.

use std::time::Duration;

use cognito_authz_core::jwks::KeySourceStats;
use cognito_authz_core::{IssuerConfig, Verifier};
use cognito_authz_testkit::{JwksServer, LocalIssuer};

/// The default refresh cooldown (`min_refresh_interval`): one fetch per issuer per 30 s.
pub const COOLDOWN: Duration = Duration::from_secs(30);

/// A local issuer serving its keys on 127.0.0.1, on a manual clock.
///
/// # Panics
/// 127.0.0.1 cannot be bound.
pub async fn pool() -> LocalIssuer {
    LocalIssuer::start()
        .await
        .expect("local issuer starts on 127.0.0.1")
}

/// The issuer's key server.
///
/// # Panics
/// The issuer was started offline.
pub fn server(issuer: &LocalIssuer) -> &JwksServer {
    issuer.server().expect("issuer started with a server")
}

/// The fetch counters of the verifier's first key source.
///
/// # Panics
/// The verifier has no key source.
pub fn stats(verifier: &Verifier) -> KeySourceStats {
    verifier.key_source_stats()[0]
}

/// Moves the issuer's manual clock (and every verifier sharing it) forward.
///
/// # Panics
/// The issuer runs on the system clock.
pub fn advance(issuer: &LocalIssuer, by: Duration) {
    issuer.manual_clock().expect("manual clock").advance(by);
}

/// A verifier trusting only `config`, on the issuer's clock.
///
/// # Panics
/// The verifier is refused.
pub fn verifier_of(issuer: &LocalIssuer, config: IssuerConfig) -> Verifier {
    Verifier::builder()
        .issuer(config)
        .shared_clock(issuer.clock())
        .build()
        .expect("verifier")
}
