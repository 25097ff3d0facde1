//! The verifier: the ordered checks of `docs/verification.md` over a token string, the configured issuers
//! and the clock. The first failing check is the result.

#[cfg(feature = "alb")]
pub(crate) mod alb;
mod background;
pub(crate) mod claims;
pub(crate) mod clock;
pub(crate) mod config;
pub mod dangerous;
pub(crate) mod jwt;
pub(crate) mod per_core_counter;
pub(crate) mod registered;
pub(crate) mod token_cache;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::edge::token_source::token_text;
use crate::error::{ConfigError, Error, ErrorKind};
use crate::jwks::{KeyFileError, KeySet, KeySetError, KeySource, KeySourceStats, RefreshReason};
use crate::revocation::RevocationStore;
use crate::verify::claims::{TokenUse, VerifiedToken};
use crate::verify::clock::{Clock, SharedClock};
use crate::verify::config::{
    Algorithm, ClientRule, FetchSettings, IssuerConfig, IssuerKind, KeyLocation,
};
use crate::verify::registered::{Audience, Claims, Header};
use crate::verify::token_cache::{CachedToken, Hit, Lookup, TimeWindow, TokenCache};

pub use background::BackgroundRefresh;
use background::Lineage;

/// Default cap on the token length (check 1): 16 KiB.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Default byte bound of the verified-token cache: 64 MiB (about 10,000 typical Cognito tokens
/// with their claims; far fewer tokens that carry thousands of groups or scopes).
pub const DEFAULT_VERIFIED_TOKEN_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Verifies Cognito (and generic OIDC) JWTs against the configured issuers.
///
/// Cheap to clone (one `Arc`). Verification on a cached key never awaits; a miss may fetch the
/// issuer's key set once (single-flight, with a cooldown).
///
/// # Example
///
/// ```
/// use cognito_authz_core::{AcceptedTokenUse, ErrorKind, IssuerConfig, Verifier};
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let verifier = Verifier::builder()
///     .issuer(
///         IssuerConfig::user_pool("us-east-1_Example1")
///             .client_ids(["1example23456789"])
///             .token_use(AcceptedTokenUse::Access)
///             .jwks_json(r#"{"keys":[]}"#)
///             .build()?,
///     )
///     .build()?;
/// let error = verifier.verify("not-a-token").await.unwrap_err();
/// assert_eq!(error.kind(), ErrorKind::MalformedToken);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    issuers: Vec<IssuerConfig>,
    /// Exact `iss` → (issuer index, key source index).
    by_iss: IssIndex,
    sources: Vec<Arc<KeySource>>,
    /// Union of every issuer's algorithms, for check 4 when `iss` names no configured issuer.
    any_algorithms: Vec<Algorithm>,
    clock: SharedClock,
    max_token_bytes: usize,
    cache: Option<TokenCache>,
    revocation: Option<RevocationStore>,
    /// Shared with the verifiers a reload built this one from, or from this one.
    lineage: Arc<Lineage>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field(
                "issuers",
                &self
                    .inner
                    .issuers
                    .iter()
                    .map(IssuerConfig::name)
                    .collect::<Vec<_>>(),
            )
            .field("max_token_bytes", &self.inner.max_token_bytes)
            .field("cache", &self.inner.cache)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Verifier`].
#[derive(Debug, Default)]
#[must_use]
pub struct VerifierBuilder {
    issuers: Vec<IssuerConfig>,
    clock: Option<SharedClock>,
    max_token_bytes: Option<usize>,
    cache_capacity: Option<usize>,
    cache_max_bytes: Option<usize>,
    revocation: Option<RevocationStore>,
    /// A verifier whose fetched key sets are taken over where the new configuration fetches
    /// from the same place the same way (a policy reload keeps those caches warm).
    reuse: Option<Verifier>,
}

impl VerifierBuilder {
    /// Adds an issuer. Several may be configured; a token selects one by its exact `iss`.
    pub fn issuer(mut self, issuer: IssuerConfig) -> Self {
        self.issuers.push(issuer);
        self
    }

    /// Adds several issuers.
    pub fn issuers(mut self, issuers: impl IntoIterator<Item = IssuerConfig>) -> Self {
        self.issuers.extend(issuers);
        self
    }

    /// The clock for `exp`/`nbf`/`iat` and JWKS cooldowns (default: the system clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(SharedClock::new(clock));
        self
    }

    /// A shared clock.
    pub fn shared_clock(mut self, clock: SharedClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Longest token accepted, in bytes (default 16 KiB).
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_token_bytes = Some(bytes);
        self
    }

    /// Keep up to `capacity` verified tokens so a repeated token skips the signature check
    /// (default: off). Decisions are unchanged: expiry is re-checked on every hit, and a key
    /// set that drops or replaces the kid invalidates its entries.
    ///
    /// The cache is also bounded in bytes: see [`VerifierBuilder::verified_token_cache_bytes`].
    pub fn verified_token_cache(mut self, capacity: usize) -> Self {
        self.cache_capacity = Some(capacity);
        self
    }

    /// The most heap bytes the verified-token cache may hold (default
    /// [`DEFAULT_VERIFIED_TOKEN_CACHE_BYTES`], 64 MiB); the oldest entries are evicted first.
    ///
    /// What is counted is what an entry really holds: the token, its parsed claims (names
    /// lists, payload text, strings), its table and queue slots, allocator overhead, and the
    /// typed claims values handlers keep on it ([`VerifiedToken::shared_claims`], charged as
    /// the size of the type plus the payload's size as a generic JSON tree). A token larger
    /// than the whole budget is verified as usual but not cached. Takes effect with
    /// [`VerifierBuilder::verified_token_cache`].
    pub fn verified_token_cache_bytes(mut self, bytes: usize) -> Self {
        self.cache_max_bytes = Some(bytes);
        self
    }

    /// Refuse tokens revoked in this store (check 15: `revoked_token`), on every verification
    /// including verified-token cache hits (default: no revocation).
    pub fn revocation(mut self, store: RevocationStore) -> Self {
        self.revocation = Some(store);
        self
    }

    /// Validates the configuration, loads static key sets, and builds the verifier.
    ///
    /// Does not fetch anything: call [`Verifier::warm_up`] to fetch before serving.
    ///
    /// # Errors
    /// No issuers, two issuers accepting the same `iss`, an unreadable `jwks_file`, a key-set
    /// file or string that is not a JSON key set, or an HTTP client that cannot be built.
    pub fn build(self) -> Result<Verifier, ConfigError> {
        if self.issuers.is_empty() {
            return Err(ConfigError::new(
                crate::ConfigErrorKind::Issuer,
                "at least one issuer is required",
            ));
        }
        if self.max_token_bytes == Some(0) {
            return Err(ConfigError::new(
                crate::ConfigErrorKind::Issuer,
                "max_token_bytes must be positive",
            ));
        }
        if let Some(store) = &self.revocation
            && let Some(issuer) = self
                .issuers
                .iter()
                .find(|issuer| issuer.leeway > store.leeway())
        {
            return Err(ConfigError::new(
                crate::ConfigErrorKind::Revocation,
                format!(
                    "issuer {} accepts {} s of leeway, more than the revocation store keeps an \
                     entry past the last instant it can match ({} s): a revoked token would be \
                     accepted again for the difference; give the store at least that leeway \
                     (RevocationStoreBuilder::leeway)",
                    issuer.name(),
                    issuer.leeway.as_secs(),
                    store.leeway().as_secs()
                ),
            ));
        }
        let clock = self.clock.unwrap_or_default();
        // Each issuer's key sets (one per region of a replicated pool), planned once.
        let planned: Vec<_> = self.issuers.iter().map(IssuerConfig::key_sources).collect();
        let needs_client = planned
            .iter()
            .flatten()
            .any(|(_, location)| location.url.is_some());
        let client = if needs_client {
            Some(crate::jwks::http_client().map_err(|error| {
                ConfigError::new(
                    crate::ConfigErrorKind::Issuer,
                    format!("cannot build the JWKS HTTP client: {error}"),
                )
                .caused_by(error)
            })?)
        } else {
            None
        };
        let reusable = self
            .reuse
            .as_ref()
            .map(Verifier::fetched_sources)
            .unwrap_or_default();
        let lineage = self
            .reuse
            .as_ref()
            .map(|previous| Arc::clone(&previous.inner.lineage))
            .unwrap_or_default();
        crate::verify::config::check_distinct(&self.issuers)
            .map_err(|clash| ConfigError::new(crate::ConfigErrorKind::Issuer, clash.message))?;
        let mut by_iss = Vec::new();
        let mut sources = Vec::new();
        let mut any_algorithms = Vec::new();
        for (index, (config, key_sources)) in self.issuers.iter().zip(planned).enumerate() {
            for algorithm in &config.algorithms {
                if !any_algorithms.contains(algorithm) {
                    any_algorithms.push(*algorithm);
                }
            }
            for (issuers, location) in key_sources {
                let reused = reusable
                    .iter()
                    .find(|(old, fetch, _)| *old == location && *fetch == config.fetch)
                    .map(|(_, _, source)| Arc::clone(source));
                let source = match reused {
                    Some(source) => source,
                    None => {
                        let preload = preload(&location, config.name())?;
                        let label: Arc<str> = Arc::from(
                            location
                                .url
                                .clone()
                                .or_else(|| {
                                    location
                                        .file
                                        .as_ref()
                                        .map(|path| path.display().to_string())
                                })
                                .unwrap_or_else(|| format!("{} (inline keys)", config.name())),
                        );
                        Arc::new(KeySource::new(
                            label,
                            location.url.clone(),
                            preload,
                            config.fetch.clone(),
                            client.clone(),
                            clock.clone(),
                        ))
                    }
                };
                sources.push(source);
                // Distinct (checked above): each iss is inserted once.
                for iss in issuers {
                    by_iss.push((iss.clone(), (index, sources.len() - 1)));
                }
            }
        }
        Ok(Verifier {
            inner: Arc::new(Inner {
                issuers: self.issuers,
                by_iss: IssIndex::new(by_iss),
                sources,
                any_algorithms,
                clock,
                max_token_bytes: self.max_token_bytes.unwrap_or(DEFAULT_MAX_TOKEN_BYTES),
                cache: self.cache_capacity.map(|capacity| {
                    TokenCache::new(
                        capacity,
                        self.cache_max_bytes
                            .unwrap_or(DEFAULT_VERIFIED_TOKEN_CACHE_BYTES),
                    )
                }),
                revocation: self.revocation,
                lineage,
            }),
        })
    }
}

fn preload(location: &KeyLocation, name: &str) -> Result<Option<KeySet>, ConfigError> {
    let invalid = |error: KeySetError| {
        ConfigError::new(
            crate::ConfigErrorKind::Issuer,
            format!("issuer {name:?}: jwks: {error}"),
        )
        .caused_by(error)
    };
    if let Some(json) = &location.json {
        return KeySet::from_json(json.as_bytes())
            .map(Some)
            .map_err(invalid);
    }
    let Some(path) = &location.file else {
        return Ok(None);
    };
    if let Some(set) = location.loaded.take() {
        return Ok(Some(set));
    }
    KeySet::from_file(path)
        .map(Some)
        .map_err(|error| match error {
            KeyFileError::Invalid(error) => invalid(error),
            error => ConfigError::new(
                crate::ConfigErrorKind::Issuer,
                format!(
                    "issuer {name:?}: cannot read jwks_file {}: {error}",
                    path.display()
                ),
            )
            .caused_by(error),
        })
}

impl Verifier {
    /// Starts building a verifier.
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder::default()
    }

    /// The configured issuers, in order.
    pub fn issuers(&self) -> impl Iterator<Item = &IssuerConfig> {
        self.inner.issuers.iter()
    }

    /// The verifier's clock.
    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    /// Fetch counters of every key source, in configuration order.
    pub fn key_source_stats(&self) -> Vec<KeySourceStats> {
        self.inner
            .sources
            .iter()
            .map(|source| source.stats())
            .collect()
    }

    /// Number of tokens in the verified-token cache (0 when off).
    pub fn cached_tokens(&self) -> usize {
        self.inner.cache.as_ref().map_or(0, TokenCache::len)
    }

    /// Heap bytes the verified-token cache holds, as counted against its byte bound (0 when
    /// off).
    pub fn cached_token_bytes(&self) -> usize {
        self.inner.cache.as_ref().map_or(0, TokenCache::bytes)
    }

    /// How many verifications the verified-token cache answered (0 when off): for metrics, and
    /// for tests that a refresh which keeps a key keeps its cached tokens.
    pub fn cached_token_hits(&self) -> u64 {
        self.inner.cache.as_ref().map_or(0, TokenCache::hits)
    }

    /// Fetches every URL-backed key set now (ignoring the cooldown), so the first request does
    /// not pay for it.
    ///
    /// # Errors
    /// The key sources whose fetch failed, each with why (DNS, TLS, connection, timeout,
    /// status, body); static sets always succeed.
    pub async fn warm_up(&self) -> Result<(), WarmUpError> {
        let mut failed = Vec::new();
        let mut causes = Vec::new();
        for source in &self.inner.sources {
            if source.has_url() && !source.refresh(RefreshReason::WarmUp).await {
                failed.push(source.label().to_owned());
                causes.push(source.last_error().map_or_else(
                    || "no fetch could be started".to_owned(),
                    |error| error.to_string(),
                ));
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(WarmUpError { failed, causes })
        }
    }

    /// Refreshes each URL-backed key source with `background_refresh` configured on its
    /// interval (the first fetch one interval from now), in tasks on the current tokio runtime
    /// that stop when the returned guard is dropped.
    ///
    /// The tasks follow policy reloads ([`Authorizer::reload`](crate::Authorizer::reload) and
    /// its watcher): once a reload puts a new verifier in force, the key sources it kept are
    /// refreshed on as before, each one it added is refreshed from then on, and the ones it
    /// dropped are refreshed only while something still uses them (an authorizer derived
    /// before the reload with [`Authorizer::with_policy`](crate::Authorizer::with_policy), as
    /// per-route layers are, or a verifier you keep), whichever verifier of the authorizer (the first one,
    /// or one [`Authorizer::verifier`](crate::Authorizer::verifier) returned after a reload)
    /// this was called on. A reload that rebuilds a key source (another URL or other fetch
    /// settings, or keys preloaded from a file, which a reload reads again) counts as dropping
    /// the old one and adding the new one.
    ///
    /// # Errors
    /// Called outside a tokio runtime.
    pub fn spawn_background_refresh(&self) -> Result<BackgroundRefresh, ConfigError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            ConfigError::new(
                crate::ConfigErrorKind::Issuer,
                "spawn_background_refresh must be called inside a tokio runtime",
            )
        })?;
        Ok(self.start_background_refresh(runtime))
    }

    /// Verifies a token (already stripped of any `Bearer ` prefix).
    ///
    /// # Errors
    /// The first failing check (each [`ErrorKind`](crate::ErrorKind) states its rule), as an [`Error`] whose kind carries the code.
    pub async fn verify(&self, token: &str) -> Result<Arc<VerifiedToken>, Error> {
        match self.verify_cached(token.as_bytes()) {
            Some(answer) => answer,
            None => self.verify_in_full(token).await,
        }
    }

    /// [`Verifier::verify`] on the token's bytes as the request carried them, answered from
    /// the verified-token cache alone (revocation included) without building the future a full
    /// verification needs; `None` when the token is not cached (or its entry is stale): then
    /// [`Verifier::verify_not_cached`]. A cached token is ASCII, so equal bytes need no UTF-8
    /// check.
    pub(crate) fn verify_cached(&self, raw: &[u8]) -> Option<Result<Arc<VerifiedToken>, Error>> {
        self.cached(raw)
            .map(|verified| self.check_revoked(verified))
    }

    /// [`Verifier::verify`] on the token's bytes after [`Verifier::verify_cached`] found
    /// nothing: they must be UTF-8 (`malformed_token`) and are verified in full.
    pub(crate) async fn verify_not_cached(&self, raw: &[u8]) -> Result<Arc<VerifiedToken>, Error> {
        self.verify_in_full(token_text(raw)?).await
    }

    /// Check 15, after every other check and whichever way the token was verified (cache hit or
    /// full verification): a revoked token is refused. Reads the local replica; never awaits.
    #[inline]
    fn check_revoked(
        &self,
        verified: Result<Arc<VerifiedToken>, Error>,
    ) -> Result<Arc<VerifiedToken>, Error> {
        match &self.inner.revocation {
            Some(store) => verified.and_then(|token| store.check_memoized(&token).map(|()| token)),
            None => verified,
        }
    }

    /// A verifier with the same clock, limits, verified-token cache settings and revocation
    /// store for `issuers`, taking over this one's fetched key sets wherever an issuer fetches
    /// from the same URL with the same settings (its verified-token cache starts empty: the
    /// issuers' rules may have changed).
    pub(crate) fn rebuilt(&self, issuers: Vec<IssuerConfig>) -> Result<Verifier, ConfigError> {
        let inner = &*self.inner;
        let mut builder = Verifier::builder()
            .issuers(issuers)
            .shared_clock(inner.clock.clone())
            .max_token_bytes(inner.max_token_bytes);
        if let Some(cache) = &inner.cache {
            builder = builder
                .verified_token_cache(cache.capacity())
                .verified_token_cache_bytes(cache.max_bytes());
        }
        if let Some(store) = &inner.revocation {
            builder = builder.revocation(store.clone());
        }
        builder.reuse = Some(self.clone());
        builder.build()
    }

    /// The key sets fetched from a URL, with where and how they are fetched (key sets from a
    /// file or string alone are re-read instead: the file may have changed).
    fn fetched_sources(&self) -> Vec<(KeyLocation, FetchSettings, Arc<KeySource>)> {
        let inner = &*self.inner;
        inner
            .issuers
            .iter()
            .flat_map(|issuer| {
                issuer
                    .key_sources()
                    .into_iter()
                    .map(move |(_, location)| (location, issuer.fetch.clone()))
            })
            .zip(&inner.sources)
            .filter(|((location, _), _)| location.url.is_some() && location.file.is_none())
            .map(|((location, fetch), source)| (location, fetch, Arc::clone(source)))
            .collect()
    }

    /// How many of this verifier's key sets are `previous`'s very own (a reload kept them).
    pub(crate) fn kept_key_sets(&self, previous: &Verifier) -> usize {
        self.inner
            .sources
            .iter()
            .filter(|source| {
                previous
                    .inner
                    .sources
                    .iter()
                    .any(|theirs| Arc::ptr_eq(source, theirs))
            })
            .count()
    }

    /// The revocation store given to the builder, if any: record sign-outs through it.
    pub fn revocation(&self) -> Option<&RevocationStore> {
        self.inner.revocation.as_ref()
    }

    /// The answer of the verified-token cache, if it has one: a current entry re-checked
    /// against the time rules (and dropped once they fail). `None` sends the token through
    /// every check.
    fn cached(&self, raw: &[u8]) -> Option<Result<Arc<VerifiedToken>, Error>> {
        let inner = &*self.inner;
        let cache = inner.cache.as_ref()?;
        match cache.get(raw) {
            Lookup::Current(hit) => {
                crate::metrics::token_cache_hit();
                let now = inner.clock.instant();
                if let (Some(window), Some(now)) = (hit.window, now)
                    && window.holds(now)
                {
                    return Some(Ok(hit.token));
                }
                Some(self.outside_window(cache, raw, hit))
            }
            Lookup::Stale => {
                crate::metrics::token_cache_miss();
                cache.remove(raw);
                None
            }
            Lookup::Miss => {
                crate::metrics::token_cache_miss();
                None
            }
        }
    }

    /// A cached token whose time window does not hold now (or that has none): its time rules
    /// checked one by one, which name the rule that fails; a token that fails one leaves the
    /// cache. Out of line: a cached token is nearly always inside its window.
    #[cold]
    #[inline(never)]
    fn outside_window(
        &self,
        cache: &TokenCache,
        raw: &[u8],
        hit: Hit,
    ) -> Result<Arc<VerifiedToken>, Error> {
        let issuer = &self.inner.issuers[hit.issuer];
        let result = self.check_times(issuer, hit.token.exp, hit.token.nbf, hit.token.iat);
        if result.is_err() {
            cache.remove(raw);
        }
        result.map(|()| hit.token)
    }

    /// Every check on a token the cache did not answer, revocation last (one future, not one
    /// awaiting another: the verification's state is moved once less).
    async fn verify_in_full(&self, token: &str) -> Result<Arc<VerifiedToken>, Error> {
        let inner = &*self.inner;
        // 1. size, before any decoding
        if token.len() > inner.max_token_bytes {
            return Err(Error::new(
                ErrorKind::TokenTooLarge,
                "token longer than max_token_bytes",
            ));
        }
        // 2–3. structure and types, in one pass (both answer malformed_token)
        let mut buffers = jwt::SegmentBuffers::new();
        let segments = jwt::split(token, &mut buffers)?;
        let header = Header::parse(&segments.header_json)?;
        let claims = Claims::parse(&segments.payload_json)?;
        let selected = claims.iss.as_deref().and_then(|iss| inner.by_iss.get(iss));
        let generic = selected.is_some_and(|(index, _)| !inner.issuers[index].is_cognito());
        if matches!(claims.aud, Audience::Many(_)) && !generic {
            return Err(Error::new(
                ErrorKind::MalformedToken,
                "aud is an array, allowed only for generic OIDC issuers",
            ));
        }
        // 4. algorithm
        if header.crit {
            return Err(Error::new(ErrorKind::UnsupportedAlg, "crit header present"));
        }
        let allowed = match selected {
            Some((index, _)) => &inner.issuers[index].algorithms,
            None => &inner.any_algorithms,
        };
        let algorithm = header
            .alg
            .as_deref()
            .and_then(Algorithm::parse)
            .filter(|algorithm| allowed.contains(algorithm))
            .ok_or(Error::new(
                ErrorKind::UnsupportedAlg,
                "alg missing or not allowed",
            ))?;
        // 5. issuer
        let (issuer_index, source_index) = selected.ok_or(Error::new(
            ErrorKind::InvalidIssuer,
            "iss missing or not configured",
        ))?;
        let issuer = &inner.issuers[issuer_index];
        // 6. kid
        let kid = header
            .kid
            .as_deref()
            .ok_or(Error::new(ErrorKind::MissingKid, "no kid in header"))?;
        // 7. key (7b: key set unavailable)
        let source = &inner.sources[source_index];
        let key = source.key(kid).await?;
        // 8. key fits
        let public_key = key.fit_for(algorithm)?;
        // 9. signature
        public_key
            .verify_sig(segments.signing_input, &segments.signature)
            .map_err(|_| Error::new(ErrorKind::InvalidSignature, "signature does not verify"))?;
        // 10–12. times
        let exp = claims
            .exp
            .ok_or(Error::new(ErrorKind::Expired, "exp missing"))?;
        self.check_times(issuer, exp, claims.nbf, claims.iat)?;
        // 13. token_use
        let token_use = claims.token_use.as_deref().and_then(TokenUse::parse);
        if let Some(accepted) = issuer.token_use {
            let token_use = token_use.ok_or(Error::new(
                ErrorKind::InvalidTokenUse,
                "token_use missing or unknown",
            ))?;
            if !accepted.accepts(token_use) {
                return Err(Error::new(
                    ErrorKind::InvalidTokenUse,
                    "token_use not accepted by the issuer",
                ));
            }
        }
        // 14. client
        check_client(issuer, token_use, &claims)?;

        let mut verified = VerifiedToken::from_claims(Arc::clone(&issuer.name), kid, claims);
        // Handed over in place (the claims that borrowed it are gone), not by moving the token.
        verified.payload_json = segments.payload_json.into_boxed_str();
        let verified = Arc::new(verified);
        if let Some(cache) = &inner.cache {
            cache.insert(
                token,
                CachedToken {
                    window: TimeWindow::new(
                        verified.exp,
                        verified.nbf,
                        verified.iat,
                        issuer.leeway,
                    ),
                    token: Arc::clone(&verified),
                    key,
                    issuer: issuer_index,
                },
            );
        }
        self.check_revoked(Ok(verified))
    }

    /// Checks 10–12 with the issuer's leeway.
    fn check_times(
        &self,
        issuer: &IssuerConfig,
        exp: f64,
        nbf: Option<f64>,
        iat: Option<f64>,
    ) -> Result<(), Error> {
        let now = self.inner.clock.now().as_secs_f64();
        let leeway = issuer.leeway.as_secs_f64();
        if now >= exp + leeway {
            return Err(Error::new(ErrorKind::Expired, "now is at or past exp"));
        }
        if nbf.is_some_and(|nbf| now < nbf - leeway) {
            return Err(Error::new(ErrorKind::NotYetValid, "now is before nbf"));
        }
        if iat.is_some_and(|iat| iat > now + leeway) {
            return Err(Error::new(
                ErrorKind::IssuedInFuture,
                "iat is in the future",
            ));
        }
        Ok(())
    }
}

/// The configured `iss` values, each with its (issuer index, key source index): compared one
/// by one while there are few (cheaper than hashing the token's `iss`, a URL of some 70
/// bytes, on every verification), hashed beyond.
enum IssIndex {
    Few(Vec<(String, (usize, usize))>),
    Many(HashMap<String, (usize, usize)>),
}

impl IssIndex {
    /// Issuers compared one by one at most.
    const FEW: usize = 16;

    /// `entries` are distinct (checked as the verifier is built).
    fn new(entries: Vec<(String, (usize, usize))>) -> Self {
        if entries.len() <= Self::FEW {
            Self::Few(entries)
        } else {
            Self::Many(entries.into_iter().collect())
        }
    }

    fn get(&self, iss: &str) -> Option<(usize, usize)> {
        match self {
            Self::Few(entries) => entries
                .iter()
                .find(|(candidate, _)| candidate == iss)
                .map(|(_, found)| *found),
            Self::Many(map) => map.get(iss).copied(),
        }
    }
}

/// Check 14 for Cognito issuers (`aud` of id tokens, `client_id` of access tokens) and the
/// audience check of generic OIDC issuers.
fn check_client(
    issuer: &IssuerConfig,
    token_use: Option<TokenUse>,
    claims: &Claims<'_>,
) -> Result<(), Error> {
    let ClientRule::Only(allowed) = &issuer.clients else {
        return Ok(());
    };
    let accepted = |value: &str| allowed.iter().any(|id| id == value);
    let ok = match (&issuer.kind, token_use, &claims.aud) {
        (IssuerKind::Oidc(_), _, Audience::One(aud)) => accepted(aud),
        (IssuerKind::Oidc(_), _, Audience::Many(items)) => items.iter().any(|aud| accepted(aud)),
        (IssuerKind::Oidc(_), _, Audience::Absent) => false,
        (_, Some(TokenUse::Id), Audience::One(aud)) => accepted(aud),
        (_, Some(TokenUse::Access), _) => claims.client_id.as_deref().is_some_and(accepted),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidClient,
            "client not configured for the issuer",
        ))
    }
}

/// Key sources whose warm-up fetch failed, each with its cause; prints as one sentence per
/// source: `could not fetch the keys of main (https://…/jwks.json): DNS lookup failed`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe_warm_up(failed, causes))]
pub struct WarmUpError {
    /// The failed sources, as labels.
    pub failed: Vec<String>,
    /// Why each failed (same order as `failed`): `DNS lookup failed`, `TLS handshake failed`,
    /// `connection failed`, `timed out`, `HTTP status 503`, a body that is not a key set, …
    pub causes: Vec<String>,
}

fn describe_warm_up(failed: &[String], causes: &[String]) -> String {
    failed
        .iter()
        .zip(causes)
        .map(|(label, cause)| format!("could not fetch the keys of {label}: {cause}"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use proptest::prelude::*;

    use super::*;
    use crate::test_tokens::block_on;
    use crate::verify::config::AcceptedTokenUse;

    const ISS: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Prop1";

    fn verifier() -> Verifier {
        let issuer = IssuerConfig::user_pool("us-east-1_Prop1")
            .client_ids(["client"])
            .token_use(AcceptedTokenUse::Any)
            .jwks_json(
                r#"{"keys":[{"kid":"k","kty":"RSA","n":"AQAB","e":"AQAB"},{"kid":"ec","kty":"EC"}]}"#,
            )
            .build()
            .expect("valid config");
        Verifier::builder()
            .issuer(issuer)
            .verified_token_cache(16)
            .build()
            .expect("valid verifier")
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn no_string_panics_the_verifier(token in ".{0,600}") {
            let verifier = verifier();
            let error = block_on(verifier.verify(&token)).expect_err("nothing random verifies");
            prop_assert!(error.kind().is_invalid_token());
        }

        #[test]
        fn no_three_segment_token_panics_the_verifier(
            header in prop_oneof![
                Just(r#"{"alg":"RS256","kid":"k"}"#.to_owned()),
                Just(r#"{"alg":"RS256","kid":"ec"}"#.to_owned()),
                Just(r#"{"alg":"none"}"#.to_owned()),
                "\\{.{0,40}\\}",
            ],
            payload in prop_oneof![
                Just(format!(r#"{{"iss":"{ISS}","exp":1e300}}"#)),
                Just(format!(r#"{{"iss":"{ISS}","exp":-1e300,"cognito:groups":[]}}"#)),
                "\\{.{0,80}\\}",
                ".{0,40}",
            ],
            signature in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let token = format!("{}.{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()), b64(&signature));
            let verifier = verifier();
            let error = block_on(verifier.verify(&token)).expect_err("unsigned input never verifies");
            prop_assert!(error.kind().is_invalid_token(), "{error}");
        }
    }
}
