//! [`LocalIssuer`]: a Cognito user pool in a box — a signing key, a JWKS server on
//! `127.0.0.1`, a clock, and token minting with the pool's real issuer URL.

use std::sync::{Mutex, MutexGuard, PoisonError};

use cognito_authz_core::{
    AcceptedTokenUse, Authorizer, AuthorizerBuilder, ConfigError, IssuerBuilder, IssuerConfig,
    SharedClock, SystemClock, Verifier, VerifierBuilder, parse_user_pool_id,
};

use crate::clock::ManualClock;
use crate::key::{SigningKey, jwks_json};
use crate::server::JwksServer;
use crate::token::{TokenBuilder, TokenKind};

/// The pool id a [`LocalIssuer`] uses unless told otherwise.
pub const DEFAULT_POOL_ID: &str = "us-east-1_LocalTest1";

/// The app client id a [`LocalIssuer`] uses unless told otherwise.
pub const DEFAULT_CLIENT_ID: &str = "localclient123";

/// Why a [`LocalIssuer`] could not be built or started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A bad pool id, client id or issuer URL, or a policy file given to
    /// [`LocalIssuer::for_policy_file`] that does not load.
    #[error("invalid local issuer configuration: {0}")]
    Config(#[from] ConfigError),
    /// The JWKS server could not bind `127.0.0.1:0`.
    #[error("cannot start the JWKS server on 127.0.0.1: {0}")]
    Bind(#[from] std::io::Error),
}

#[derive(Debug)]
enum KeyHome {
    /// Keys live in the server, which serves whatever the set is now.
    Served(JwksServer),
    /// No server: the set is handed to configs as JSON.
    Offline(Mutex<Vec<SigningKey>>),
}

#[derive(Debug, Clone)]
enum ClockChoice {
    Manual(ManualClock),
    System,
}

/// A local Cognito user pool for tests: mints tokens whose `iss` is the real Cognito form
/// (`https://cognito-idp.{region}.amazonaws.com/{pool_id}`), signs them with keys it
/// generates, serves those keys over HTTP on `127.0.0.1`, and builds the matching
/// [`IssuerConfig`] so the verifier fetches from it.
///
/// Times come from its clock: a [`ManualClock`] at [`DEFAULT_START_SECS`](crate::DEFAULT_START_SECS)
/// by default (give the verifier the same clock with [`LocalIssuer::clock`]), or the system
/// clock when the builder asks for it.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use cognito_authz_core::{AcceptedTokenUse, ErrorKind};
/// use cognito_authz_testkit::LocalIssuer;
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let issuer = LocalIssuer::start().await?;
/// let verifier = issuer.verifier_builder(AcceptedTokenUse::Id).build()?;
/// let token = issuer.id_token().username("bob").sign();
/// assert_eq!(verifier.verify(&token).await?.username(), Some("bob"));
///
/// issuer.manual_clock().expect("default clock is manual").advance(Duration::from_secs(3600));
/// let error = verifier.verify(&token).await.unwrap_err();
/// assert_eq!(error.kind(), ErrorKind::Expired);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct LocalIssuer {
    identity: Identity,
    current: Mutex<SigningKey>,
    keys: KeyHome,
}

/// Builds a [`LocalIssuer`]; every method consumes and returns the builder.
#[derive(Debug, Clone)]
#[must_use]
pub struct LocalIssuerBuilder {
    pool_id: String,
    client_id: String,
    clock: ClockChoice,
    key: Option<SigningKey>,
    custom_iss: Option<String>,
}

impl Default for LocalIssuerBuilder {
    fn default() -> Self {
        Self {
            pool_id: DEFAULT_POOL_ID.to_owned(),
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            clock: ClockChoice::Manual(ManualClock::default()),
            key: None,
            custom_iss: None,
        }
    }
}

impl LocalIssuerBuilder {
    /// The user pool id (default [`DEFAULT_POOL_ID`]); its region prefix picks the issuer URL.
    pub fn pool_id(mut self, pool_id: impl Into<String>) -> Self {
        self.pool_id = pool_id.into();
        self
    }

    /// The app client id tokens are minted for (default [`DEFAULT_CLIENT_ID`]).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = client_id.into();
        self
    }

    /// Use this manual clock (share it with the verifier to move time in tests).
    pub fn clock(mut self, clock: ManualClock) -> Self {
        self.clock = ClockChoice::Manual(clock);
        self
    }

    /// Use the operating system's clock for token times instead of a manual one.
    pub fn system_clock(mut self) -> Self {
        self.clock = ClockChoice::System;
        self
    }

    /// Sign with this key (default: a fresh RSA-2048 key with a random Cognito-like kid).
    pub fn signing_key(mut self, key: SigningKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Mint tokens with this exact `iss` instead of the AWS URL, as emulators such as
    /// cognito-local or LocalStack do; [`LocalIssuer::issuer_builder`] then uses
    /// [`IssuerConfig::cognito_issuer`].
    pub fn cognito_issuer(mut self, iss: impl Into<String>) -> Self {
        self.custom_iss = Some(iss.into());
        self
    }

    /// Starts the issuer with its JWKS server on `127.0.0.1:0`. Must run inside a tokio runtime.
    ///
    /// # Errors
    /// A malformed pool id, an empty client id, an issuer that is not an http(s) URL, or a
    /// loopback port that cannot be bound.
    pub async fn start(self) -> Result<LocalIssuer, StartError> {
        let (identity, key) = self.validate()?;
        let server = JwksServer::start([key.clone()]).await?;
        Ok(identity.into_issuer(key, KeyHome::Served(server)))
    }

    /// Builds the issuer without a server: configs carry the keys as JSON
    /// ([`LocalIssuer::jwks_json`]). Needs no runtime.
    ///
    /// # Errors
    /// A malformed pool id, an empty client id, or an issuer that is not an http(s) URL.
    pub fn offline(self) -> Result<LocalIssuer, StartError> {
        let (identity, key) = self.validate()?;
        let keys = Mutex::new(vec![key.clone()]);
        Ok(identity.into_issuer(key, KeyHome::Offline(keys)))
    }

    fn validate(self) -> Result<(Identity, SigningKey), StartError> {
        let region = parse_user_pool_id(&self.pool_id)?.to_owned();
        if self.client_id.is_empty() {
            return Err(ConfigError::new(
                cognito_authz_core::ConfigErrorKind::Issuer,
                "the client id must not be empty",
            )
            .into());
        }
        if let Some(iss) = &self.custom_iss
            && !(iss.starts_with("https://") || iss.starts_with("http://"))
        {
            return Err(ConfigError::new(
                cognito_authz_core::ConfigErrorKind::Issuer,
                format!("issuer {iss:?} must be an http(s) URL"),
            )
            .into());
        }
        let (clock, manual) = match self.clock {
            ClockChoice::Manual(manual) => (SharedClock::new(manual.clone()), Some(manual)),
            ClockChoice::System => (SharedClock::new(SystemClock), None),
        };
        let identity = Identity {
            pool_id: self.pool_id,
            region,
            client_id: self.client_id,
            custom_iss: self.custom_iss,
            clock,
            manual,
        };
        let key = self
            .key
            .unwrap_or_else(SigningKey::generate_with_random_kid);
        Ok((identity, key))
    }
}

/// Who the issuer is and what time it keeps: everything but its keys.
#[derive(Debug)]
struct Identity {
    pool_id: String,
    region: String,
    client_id: String,
    custom_iss: Option<String>,
    clock: SharedClock,
    manual: Option<ManualClock>,
}

impl Identity {
    fn into_issuer(self, key: SigningKey, keys: KeyHome) -> LocalIssuer {
        LocalIssuer {
            identity: self,
            current: Mutex::new(key),
            keys,
        }
    }
}

impl LocalIssuer {
    /// Starts an issuer with the defaults ([`DEFAULT_POOL_ID`], [`DEFAULT_CLIENT_ID`], a
    /// manual clock, a fresh key) and its JWKS server. Must run inside a tokio runtime.
    ///
    /// # Errors
    /// The loopback port cannot be bound.
    pub async fn start() -> Result<Self, StartError> {
        Self::builder().start().await
    }

    /// An issuer with the defaults and no server (keys go into configs as JSON).
    pub fn offline() -> Self {
        Self::builder()
            .offline()
            .expect("the default pool id and client id are valid")
    }

    /// Starts configuring an issuer.
    pub fn builder() -> LocalIssuerBuilder {
        LocalIssuerBuilder::default()
    }

    /// The user pool id.
    pub fn pool_id(&self) -> &str {
        &self.identity.pool_id
    }

    /// The pool's region (the pool id's prefix).
    pub fn region(&self) -> &str {
        &self.identity.region
    }

    /// The app client id tokens are minted for by default.
    pub fn client_id(&self) -> &str {
        &self.identity.client_id
    }

    /// The `iss` minted tokens carry: `https://cognito-idp.{region}.amazonaws.com/{pool_id}`,
    /// or the issuer given to [`LocalIssuerBuilder::cognito_issuer`].
    pub fn iss(&self) -> String {
        match &self.identity.custom_iss {
            Some(iss) => iss.clone(),
            None => format!(
                "https://cognito-idp.{}.amazonaws.com/{}",
                self.identity.region, self.identity.pool_id
            ),
        }
    }

    /// The updated issuer form Cognito also mints,
    /// `https://issuer-cognito-idp.{region}.amazonaws.com/{pool_id}` (`None` with a custom
    /// issuer). Put it in a token with `.iss(issuer.updated_iss().unwrap())`.
    pub fn updated_iss(&self) -> Option<String> {
        self.identity.custom_iss.is_none().then(|| {
            format!(
                "https://issuer-cognito-idp.{}.amazonaws.com/{}",
                self.identity.region, self.identity.pool_id
            )
        })
    }

    /// The issuer's clock, for [`VerifierBuilder::shared_clock`].
    pub fn clock(&self) -> SharedClock {
        self.identity.clock.clone()
    }

    /// The manual clock, unless the issuer was built with the system clock.
    pub fn manual_clock(&self) -> Option<&ManualClock> {
        self.identity.manual.as_ref()
    }

    /// The JWKS server (`None` for an offline issuer).
    pub fn server(&self) -> Option<&JwksServer> {
        match &self.keys {
            KeyHome::Served(server) => Some(server),
            KeyHome::Offline(_) => None,
        }
    }

    /// The JWKS URL on `127.0.0.1` (`None` for an offline issuer).
    pub fn jwks_url(&self) -> Option<String> {
        self.server().map(JwksServer::url)
    }

    // --- keys ---

    /// The key new tokens are signed with.
    pub fn signing_key(&self) -> SigningKey {
        lock(&self.current).clone()
    }

    /// Signs new tokens with this key (it is not added to the key set; see
    /// [`LocalIssuer::add_key`]).
    pub fn set_signing_key(&self, key: SigningKey) {
        *lock(&self.current) = key;
    }

    /// The published key set, in order.
    pub fn keys(&self) -> Vec<SigningKey> {
        match &self.keys {
            KeyHome::Served(server) => server.keys(),
            KeyHome::Offline(keys) => lock(keys).clone(),
        }
    }

    /// Publishes another key (without signing with it).
    pub fn add_key(&self, key: SigningKey) {
        match &self.keys {
            KeyHome::Served(server) => server.add_key(key),
            KeyHome::Offline(keys) => lock(keys).push(key),
        }
    }

    /// Unpublishes every key with this kid; returns whether one was removed. Tokens can still
    /// be signed with it (that is the point of the test).
    pub fn remove_key(&self, kid: &str) -> bool {
        match &self.keys {
            KeyHome::Served(server) => server.remove_key(kid),
            KeyHome::Offline(keys) => {
                let mut keys = lock(keys);
                let before = keys.len();
                keys.retain(|key| key.kid() != kid);
                keys.len() != before
            }
        }
    }

    /// Generates a key, publishes it beside the old ones (as Cognito does) and signs new
    /// tokens with it; returns it.
    ///
    /// A verifier learns the new kid on its next refresh, which its cooldown
    /// (`min_refresh_interval`, default 30 s of the verifier's clock) may hold back: advance
    /// the manual clock past it, or lower it in the config. An offline issuer's configs
    /// already built keep the old set.
    pub fn rotate(&self) -> SigningKey {
        let key = SigningKey::generate_with_random_kid();
        self.add_key(key.clone());
        self.set_signing_key(key.clone());
        key
    }

    /// The published key set as JSON (`{"keys":[…]}`).
    pub fn jwks_json(&self) -> String {
        jwks_json(&self.keys())
    }

    // --- tokens ---

    /// Starts an id token for [`DEFAULT_USERNAME`](crate::DEFAULT_USERNAME) of this pool and client.
    pub fn id_token(&self) -> TokenBuilder {
        self.token(TokenKind::Id)
    }

    /// Starts a user access token for this pool and client.
    pub fn access_token(&self) -> TokenBuilder {
        self.token(TokenKind::Access)
    }

    /// Starts a machine (client_credentials) access token for this client.
    pub fn machine_token(&self) -> TokenBuilder {
        self.token(TokenKind::Machine)
    }

    /// Starts a token of any kind.
    pub fn token(&self, kind: TokenKind) -> TokenBuilder {
        TokenBuilder::new(
            kind,
            self.signing_key(),
            self.identity.clock.clone(),
            self.iss(),
            self.identity.client_id.clone(),
        )
    }

    // --- verifier configuration ---

    /// An issuer configuration builder for this pool: [`IssuerConfig::user_pool`] (or
    /// [`IssuerConfig::cognito_issuer`] with a custom issuer) with this client id and
    /// `token_use`, keys from the local server's URL, or, offline, the current key set as
    /// JSON. Add leeway, fetch settings and so on before building.
    pub fn issuer_builder(&self, token_use: AcceptedTokenUse) -> IssuerBuilder {
        let builder = match &self.identity.custom_iss {
            Some(iss) => IssuerConfig::cognito_issuer(iss.as_str()),
            None => IssuerConfig::user_pool(self.identity.pool_id.as_str()),
        }
        .client_ids([self.identity.client_id.as_str()])
        .token_use(token_use);
        match &self.keys {
            KeyHome::Served(server) => builder.jwks_url(server.url()),
            KeyHome::Offline(_) => builder.jwks_json(self.jwks_json()),
        }
    }

    /// The issuer configuration of [`LocalIssuer::issuer_builder`], built.
    pub fn issuer_config(&self, token_use: AcceptedTokenUse) -> IssuerConfig {
        self.issuer_builder(token_use)
            .build()
            .expect("a local issuer's pool id, client id and loopback key URL were validated")
    }

    /// A verifier builder with this issuer's configuration and clock already set.
    pub fn verifier_builder(&self, token_use: AcceptedTokenUse) -> VerifierBuilder {
        Verifier::builder()
            .issuer(self.issuer_config(token_use))
            .shared_clock(self.clock())
    }

    /// An authorizer builder whose verifier is [`LocalIssuer::verifier_builder`]'s, built: add
    /// the route table in code (`route`, `policy`, `unmatched`, …) and build.
    ///
    /// ```
    /// use cognito_authz_core::{AcceptedTokenUse, Policy};
    /// use cognito_authz_testkit::LocalIssuer;
    /// let issuer = LocalIssuer::offline();
    /// let authorizer = issuer
    ///     .authorizer_builder(AcceptedTokenUse::Access)
    ///     .route("/health", Policy::public())
    ///     .unmatched(Policy::authenticated())
    ///     .build()?;
    /// # Ok::<(), cognito_authz_core::ConfigError>(())
    /// ```
    ///
    /// # Panics
    /// The HTTP client that fetches the served keys cannot be built (no TLS roots).
    pub fn authorizer_builder(&self, token_use: AcceptedTokenUse) -> AuthorizerBuilder {
        let verifier = self
            .verifier_builder(token_use)
            .build()
            .expect("a local issuer's configuration builds a verifier");
        Authorizer::builder().verifier(verifier)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data replaced in single statements: a poisoned lock still holds a valid value.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_rejects_bad_input() {
        assert!(matches!(
            LocalIssuer::builder().pool_id("nope").offline(),
            Err(StartError::Config(_))
        ));
        assert!(LocalIssuer::builder().client_id("").offline().is_err());
        assert!(
            LocalIssuer::builder()
                .cognito_issuer("localhost:9229/pool")
                .offline()
                .is_err()
        );
    }

    #[test]
    fn issuer_urls_follow_the_pool_region() {
        let issuer = LocalIssuer::builder()
            .pool_id("eu-west-2_Abc123")
            .offline()
            .expect("valid");
        assert_eq!(
            issuer.iss(),
            "https://cognito-idp.eu-west-2.amazonaws.com/eu-west-2_Abc123"
        );
        assert_eq!(
            issuer.updated_iss().as_deref(),
            Some("https://issuer-cognito-idp.eu-west-2.amazonaws.com/eu-west-2_Abc123")
        );
        assert_eq!(
            issuer.issuer_config(AcceptedTokenUse::Any).issuers()[0],
            issuer.iss()
        );
    }

    #[test]
    fn rotate_publishes_beside_the_old_key_and_signs_with_the_new() {
        let issuer = LocalIssuer::offline();
        let old = issuer.signing_key();
        let new = issuer.rotate();
        assert_eq!(issuer.signing_key().kid(), new.kid());
        let kids: Vec<_> = issuer.keys().iter().map(|k| k.kid().to_owned()).collect();
        assert_eq!(kids, [old.kid(), new.kid()]);
        assert!(issuer.remove_key(old.kid()));
        assert!(!issuer.remove_key(old.kid()));
        assert_eq!(issuer.keys().len(), 1);
    }
}
