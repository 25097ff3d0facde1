//! Revocation: sign-outs and revoked sessions honoured by the verifier, in one process or across
//! a fleet.
//!
//! Cognito revokes tokens in three ways, and a [`RevocationStore`] records each of them:
//!
//! - **one token**, by its `jti` ([`Revocation::token`]);
//! - **a session** — `RevokeToken` on a refresh token revokes every id and access token minted
//!   from it, which share its `origin_jti` ([`Revocation::session`]);
//! - **a user** — `GlobalSignOut` / `AdminUserGlobalSignOut` revoke every token of the user
//!   (`iss` + `sub`) issued before the sign-out: a cut-off on `iat` ([`Revocation::user`]).
//!
//! **The cut-off rule.** `iat` has a resolution of one second, so a token issued in the same
//! second as the sign-out cannot be told apart from one issued just before it. Such a token is
//! revoked: a user cut-off at second `C` revokes every token with `iat < C + 1` (and a token
//! without `iat`). A client that signs in again within that second gets `revoked_token` once and
//! succeeds a second later; the other choice would let a stolen token minted just before the
//! sign-out through.
//!
//! The verifier asks the store after every other check passed — also when the verified-token
//! cache answers — and refuses a revoked token with 401 `revoked_token`. The check reads a local
//! replica and never awaits; with the Redis backend (feature `redis`) the replica follows the
//! shared truth in Redis by pub/sub and resynchronises after every reconnect and periodically.
//!
//! Every entry expires on its own once no token it matches can still be valid: a token entry at
//! the token's `exp`, session and user entries [`max_token_lifetime`](RevocationStoreBuilder::max_token_lifetime)
//! after the revocation or cut-off (Cognito's id and access tokens live at most one day), each plus
//! the [`leeway`](RevocationStoreBuilder::leeway).
//!
//! # Example
//!
//! ```
//! use cognito_authz_core::revocation::{Revocation, RevocationStore};
//! use cognito_authz_core::{AcceptedTokenUse, Clock, IssuerConfig, SystemClock, Verifier};
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let store = RevocationStore::builder().memory();
//! let verifier = Verifier::builder()
//!     .issuer(
//!         IssuerConfig::user_pool("us-east-1_Example1")
//!             .client_ids(["1example23456789"])
//!             .token_use(AcceptedTokenUse::Access)
//!             .build()?,
//!     )
//!     .revocation(store.clone())
//!     .build()?;
//! // The user signed out everywhere just now (what `AdminUserGlobalSignOut` does at Cognito):
//! store
//!     .revoke(Revocation::user(
//!         "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example1",
//!         "3b1c2d4e-0000-4000-8000-000000000001",
//!         SystemClock.now().as_secs(),
//!     ))
//!     .await?;
//! assert_eq!(store.status().entries, 1);
//! // From now on the verifier answers `revoked_token` for that user's earlier tokens.
//! # drop(verifier);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

pub(crate) mod config;
#[cfg(feature = "redis")]
mod redis;
mod replica;

pub(crate) use config::from_policy_file;
pub use config::{RevocationConfig, StoreLocation};

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use crate::error::{ConfigError, Error, ErrorKind};
use crate::verify::claims::VerifiedToken;
use crate::verify::clock::{Clock, SharedClock};

use replica::{Entry, Key, Replica};

/// Default for how long a replica cut off from Redis is trusted: 60 s.
pub const DEFAULT_STALENESS_LIMIT: Duration = Duration::from_secs(60);
/// Default key prefix in Redis.
pub const DEFAULT_KEY_PREFIX: &str = "cognito-authz:revocation:";
/// Default longest life of a token a session or user entry must outlast: one day, Cognito's
/// maximum for id and access tokens.
pub const DEFAULT_MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// Default extra time every entry is kept, covering any verifier's leeway: 5 minutes.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(5 * 60);
/// Default interval of the periodic resynchronisation with Redis: 60 s.
pub const DEFAULT_RESYNC_INTERVAL: Duration = Duration::from_secs(60);
/// Longest default interval between two liveness proofs of a Redis replica: 15 s (the default
/// is a quarter of the staleness limit, between 100 ms and this).
pub const MAX_DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(15);
/// The longest resync interval or Redis timeout accepted: the background task schedules them on
/// timers, which cannot be set near `Duration::MAX`.
const MAX_BACKGROUND_DURATION: Duration = Duration::from_secs(365 * 86_400);

/// What a replica that has lost Redis for longer than the staleness limit does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WhenStale {
    /// Answer 503 `revocation_unavailable` to every request with a token (the default: a
    /// revocation is never ignored for longer than the staleness limit).
    #[default]
    Refuse,
    /// Keep answering from the replica as it is (availability first: revocations made while
    /// Redis is unreachable cannot be recorded anyway, and those recorded before are kept).
    Serve,
}

impl WhenStale {
    /// Reads `"refuse"` or `"serve"`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "refuse" => Some(Self::Refuse),
            "serve" => Some(Self::Serve),
            _ => None,
        }
    }

    /// The configuration word.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Refuse => "refuse",
            Self::Serve => "serve",
        }
    }
}

/// One revocation: what it matches and until when.
///
/// Times are Unix seconds of the store's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Revocation {
    /// One token, by its `jti`.
    Token {
        /// The token's `jti`.
        jti: String,
        /// When the entry may be forgotten (Unix seconds); `None`: the store's default.
        expires: Option<u64>,
    },
    /// A session: every token whose `origin_jti` is this one (Cognito's `RevokeToken`).
    Session {
        /// The session's `origin_jti`.
        origin_jti: String,
        /// When the entry may be forgotten (Unix seconds); `None`: the store's default.
        expires: Option<u64>,
    },
    /// A user: every token of `issuer` + `sub` with `iat` at or before `cutoff` (a global
    /// sign-out at `cutoff`).
    User {
        /// The token's `iss` (Cognito's two issuer spellings of one pool are the same user).
        issuer: String,
        /// The user's `sub`.
        sub: String,
        /// Tokens issued in this second or earlier are revoked (Unix seconds).
        cutoff: u64,
        /// When the entry may be forgotten (Unix seconds); `None`: the store's default.
        expires: Option<u64>,
    },
}

impl Revocation {
    /// Revokes the token with this `jti`.
    pub fn token(jti: impl Into<String>) -> Self {
        Self::Token {
            jti: jti.into(),
            expires: None,
        }
    }

    /// Revokes every token of the session with this `origin_jti`.
    pub fn session(origin_jti: impl Into<String>) -> Self {
        Self::Session {
            origin_jti: origin_jti.into(),
            expires: None,
        }
    }

    /// Revokes every token of `issuer` + `sub` issued at or before `cutoff` (Unix seconds).
    ///
    /// A Cognito user pool is one namespace of users: the sign-out covers the pool's tokens
    /// under both issuer spellings (`cognito-idp.…`, `issuer-cognito-idp.…`) and from every
    /// region of a replicated pool, whichever of them `issuer` names.
    pub fn user(issuer: impl Into<String>, sub: impl Into<String>, cutoff: u64) -> Self {
        Self::User {
            issuer: issuer.into(),
            sub: sub.into(),
            cutoff,
            expires: None,
        }
    }

    /// Revokes this verified token alone; the entry lives until the token expires.
    ///
    /// # Errors
    /// The token has no `jti` (Cognito's access tokens and recent id tokens have one).
    pub fn this_token(token: &VerifiedToken) -> Result<Self, RevocationError> {
        let jti = token.jti().ok_or(RevocationError::MissingClaim("jti"))?;
        Ok(Self::Token {
            jti: jti.to_owned(),
            expires: Some(seconds_ceil(token.expires_at())),
        })
    }

    /// Revokes the session this verified token belongs to (its `origin_jti`).
    ///
    /// # Errors
    /// The token has no `origin_jti`.
    pub fn session_of(token: &VerifiedToken) -> Result<Self, RevocationError> {
        let origin_jti = token
            .origin_jti()
            .ok_or(RevocationError::MissingClaim("origin_jti"))?;
        Ok(Self::session(origin_jti))
    }

    /// Signs out the user of this verified token at `cutoff` (Unix seconds).
    ///
    /// # Errors
    /// The token has no `sub`.
    pub fn user_of(token: &VerifiedToken, cutoff: u64) -> Result<Self, RevocationError> {
        let sub = token.sub().ok_or(RevocationError::MissingClaim("sub"))?;
        Ok(Self::user(token.issuer(), sub, cutoff))
    }

    /// Keeps the entry until `expires` (Unix seconds) instead of the store's default.
    #[must_use]
    pub fn until(mut self, until: u64) -> Self {
        match &mut self {
            Self::Token { expires, .. }
            | Self::Session { expires, .. }
            | Self::User { expires, .. } => *expires = Some(until),
        }
        self
    }

    /// The entry's expiry: explicit, else from the time the revocation is recorded (`now`) or the
    /// cut-off, plus the longest token life; plus the leeway in both cases.
    fn resolve(mut self, now: u64, lifetime: Duration, leeway: Duration) -> Self {
        // Times here are whole seconds, a token's are not: a token issued within the second
        // `now` (or the cut-off's second, which the user entry matches) can expire up to a
        // second after that second's start plus the lifetime, hence the extra second.
        let (lifetime, leeway) = (lifetime.as_secs().saturating_add(1), leeway.as_secs());
        match &mut self {
            Self::Token { expires, .. } | Self::Session { expires, .. } => {
                let until = expires.unwrap_or_else(|| now.saturating_add(lifetime));
                *expires = Some(until.saturating_add(leeway));
            }
            Self::User {
                expires, cutoff, ..
            } => {
                let until = expires.unwrap_or_else(|| (*cutoff).saturating_add(lifetime));
                *expires = Some(until.saturating_add(leeway));
            }
        }
        self
    }

    fn key(&self) -> Key<'_> {
        match self {
            Self::Token { jti, .. } => Key::Token(jti),
            Self::Session { origin_jti, .. } => Key::Session(origin_jti),
            Self::User { issuer, sub, .. } => Key::User { issuer, sub },
        }
    }

    fn entry(&self) -> Entry {
        let clamp = |secs: u64| u32::try_from(secs).unwrap_or(u32::MAX);
        match self {
            Self::Token { expires, .. } | Self::Session { expires, .. } => Entry {
                expires: clamp(expires.unwrap_or(0)),
                cutoff: 0,
            },
            Self::User {
                expires, cutoff, ..
            } => Entry {
                expires: clamp(expires.unwrap_or(0)),
                cutoff: clamp(*cutoff),
            },
        }
    }
}

/// Why a revocation could not be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationError {
    /// The token lacks the claim the revocation is keyed on.
    #[error("the token has no {0} claim")]
    MissingClaim(&'static str),
    /// An identifier is empty.
    #[error("an empty {0} revokes nothing")]
    Empty(&'static str),
    /// The shared store (Redis) could not be reached or refused the write; nothing was recorded.
    #[error("the revocation store is unavailable: {0}")]
    Unavailable(String),
}

/// A snapshot of the store's state, for health checks, metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RevocationStatus {
    /// The replica follows the shared store right now (always true for the memory backend).
    pub connected: bool,
    /// Revocations applied to the replica, from this process or from other instances.
    pub applied: u64,
    /// Completed resynchronisations with the shared store (0 for the memory backend).
    pub resyncs: u64,
    /// Clock second (Unix time) up to which the replica is known to hold every revocation: the
    /// start of the last resynchronisation or the sending of the last heartbeat that came back
    /// through the subscription; `None` before the first. The replica is stale once the clock
    /// is more than the staleness limit past it, connected or not (always `None` for the memory
    /// backend, which is never stale).
    pub fresh_at: Option<u64>,
    /// Entries in the replica (expired ones included until purged).
    pub entries: usize,
}

/// Revocation state of one process: a local replica, and optionally the shared store behind it.
///
/// Cheap to clone. Give it to [`VerifierBuilder::revocation`](crate::VerifierBuilder::revocation)
/// (or the policy file's `[revocation]` section) and record revocations with
/// [`RevocationStore::revoke`].
#[derive(Clone)]
pub struct RevocationStore {
    inner: Arc<Shared>,
}

pub(crate) struct Shared {
    replica: Replica,
    clock: SharedClock,
    staleness_limit: Duration,
    when_stale: WhenStale,
    max_token_lifetime: Duration,
    leeway: Duration,
    backend: Backend,
    /// No shared store: the replica is the whole truth and never stale.
    always_fresh: bool,
    /// The replica follows the shared store (always true without one).
    connected: AtomicBool,
    /// Clock second at which the replica was last known complete; 0: never. Only grows.
    fresh_at: AtomicU64,
    /// A "stale beyond the limit" event has been emitted since the last connection.
    stale_reported: AtomicBool,
    /// Bumped after every change to the replica that adds or extends an entry; starts at 1.
    generation: AtomicU64,
    status: watch::Sender<RevocationStatus>,
}

enum Backend {
    Memory,
    #[cfg(feature = "redis")]
    Redis(Box<redis::RedisBackend>),
}

impl fmt::Debug for RevocationStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match &self.inner.backend {
            Backend::Memory => "memory",
            #[cfg(feature = "redis")]
            Backend::Redis(_) => "redis",
        };
        f.debug_struct("RevocationStore")
            .field("backend", &backend)
            .field("status", &self.status())
            .field("staleness_limit", &self.inner.staleness_limit)
            .field("when_stale", &self.inner.when_stale)
            .finish_non_exhaustive()
    }
}

/// Configures a [`RevocationStore`]; finish with [`memory`](Self::memory) or `redis`.
#[derive(Debug, Clone)]
#[must_use]
pub struct RevocationStoreBuilder {
    clock: SharedClock,
    staleness_limit: Duration,
    when_stale: WhenStale,
    key_prefix: String,
    max_token_lifetime: Duration,
    leeway: Duration,
    resync_interval: Duration,
    heartbeat_interval: Option<Duration>,
    timeout: Duration,
}

impl Default for RevocationStoreBuilder {
    fn default() -> Self {
        Self {
            clock: SharedClock::default(),
            staleness_limit: DEFAULT_STALENESS_LIMIT,
            when_stale: WhenStale::default(),
            key_prefix: DEFAULT_KEY_PREFIX.to_owned(),
            max_token_lifetime: DEFAULT_MAX_TOKEN_LIFETIME,
            leeway: DEFAULT_LEEWAY,
            resync_interval: DEFAULT_RESYNC_INTERVAL,
            heartbeat_interval: None,
            timeout: Duration::from_secs(2),
        }
    }
}

impl RevocationStoreBuilder {
    /// The clock for entry expiry, cut-offs and staleness (default: the system clock; give the
    /// verifier's clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = SharedClock::new(clock);
        self
    }

    /// A shared clock.
    pub fn shared_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// How long a Redis replica is trusted as it is after the last proof that it holds every
    /// revocation (default 60 s). A connection that is lost, or silent without being reset,
    /// counts from the last resynchronisation or heartbeat that came back; with Redis, it must
    /// be longer than the heartbeat interval plus the timeout, or building the store fails.
    pub fn staleness_limit(mut self, limit: Duration) -> Self {
        self.staleness_limit = limit;
        self
    }

    /// What happens past the staleness limit (default [`WhenStale::Refuse`]: 503).
    pub fn when_stale(mut self, when: WhenStale) -> Self {
        self.when_stale = when;
        self
    }

    /// Prefix of every Redis key and of the change channel (default `cognito-authz:revocation:`).
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// Longest life of a token that a session or user entry must outlast (default one day).
    pub fn max_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.max_token_lifetime = lifetime;
        self
    }

    /// Extra time every entry is kept, at least the verifier's leeway (default 5 minutes).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Interval of the periodic resynchronisation with Redis (default 60 s; more than zero and
    /// at most 365 days, or building a Redis store fails).
    pub fn resync_interval(mut self, interval: Duration) -> Self {
        self.resync_interval = interval;
        self
    }

    /// How often a Redis replica proves that its subscription is live: it publishes a heartbeat
    /// on a channel of its own and, when the heartbeat comes back through the subscription that
    /// carries the revocations, knows it has heard every revocation published before it (Redis
    /// delivers one connection's messages in order). Default: a quarter of the staleness limit,
    /// at least 100 ms and at most 15 s. More than zero, and together with the timeout shorter
    /// than the staleness limit, or building a Redis store fails.
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = Some(interval);
        self
    }

    /// The heartbeat interval given, or the default for the staleness limit.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    fn heartbeat_or_default(&self) -> Duration {
        self.heartbeat_interval.unwrap_or_else(|| {
            (self.staleness_limit / 4)
                .clamp(Duration::from_millis(100), MAX_DEFAULT_HEARTBEAT_INTERVAL)
        })
    }

    /// Time allowed for one Redis connection or command, and for a heartbeat to come back
    /// (default 2 s; more than zero and at most 365 days, or building a Redis store fails).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// A store for this process alone (tests, single instances).
    pub fn memory(self) -> RevocationStore {
        RevocationStore::new(self, Backend::Memory, true)
    }

    /// A store whose shared truth lives in Redis at `url` (`redis://[user:password@]host:port/db`;
    /// TLS, `rediss://`, is not supported yet).
    ///
    /// Returns at once and connects in a background task on the current tokio runtime; until the
    /// first resynchronisation completes the replica counts as stale (see [`WhenStale`]), and
    /// [`RevocationStore::wait_until_connected`] awaits it.
    ///
    /// # Errors
    /// A URL the client cannot parse, an empty key prefix, a resync interval or timeout of zero
    /// or over 365 days, or no tokio runtime.
    #[cfg(feature = "redis")]
    pub fn redis(self, url: &str) -> Result<RevocationStore, ConfigError> {
        redis::connect(self, url)
    }

    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    fn validate(&self) -> Result<(), ConfigError> {
        if self.key_prefix.is_empty() {
            return Err(ConfigError::new(
                crate::ConfigErrorKind::Revocation,
                "revocation key_prefix must not be empty",
            ));
        }
        if self.resync_interval.is_zero() || self.resync_interval > MAX_BACKGROUND_DURATION {
            return Err(ConfigError::new(
                crate::ConfigErrorKind::Revocation,
                "revocation resync_interval must be positive and at most 365 days",
            ));
        }
        if self.timeout.is_zero() || self.timeout > MAX_BACKGROUND_DURATION {
            return Err(ConfigError::new(
                crate::ConfigErrorKind::Revocation,
                "revocation timeout must be positive and at most 365 days",
            ));
        }
        let heartbeat = self.heartbeat_or_default();
        if heartbeat.is_zero() || heartbeat > MAX_BACKGROUND_DURATION {
            return Err(ConfigError::new(
                crate::ConfigErrorKind::Revocation,
                "revocation heartbeat_interval must be positive and at most 365 days",
            ));
        }
        // A healthy replica is proven at least every heartbeat interval plus one round trip
        // (at most the timeout); the staleness limit must leave room for that.
        if heartbeat.saturating_add(self.timeout) >= self.staleness_limit {
            return Err(ConfigError::new(
                crate::ConfigErrorKind::Revocation,
                "revocation staleness_limit must be longer than heartbeat_interval plus the \
                 Redis timeout, or a healthy replica would count as stale between two heartbeats",
            ));
        }
        Ok(())
    }
}

impl RevocationStore {
    /// Starts configuring a store.
    pub fn builder() -> RevocationStoreBuilder {
        RevocationStoreBuilder::default()
    }

    /// How long every entry is kept past the last instant it can match: no verifier using
    /// this store may accept more clock skew than this.
    pub fn leeway(&self) -> Duration {
        self.inner.leeway
    }

    fn new(builder: RevocationStoreBuilder, backend: Backend, connected: bool) -> Self {
        let now = builder.clock.now().as_secs();
        let (status, _) = watch::channel(RevocationStatus {
            connected,
            ..RevocationStatus::default()
        });
        Self {
            inner: Arc::new(Shared {
                replica: Replica::new(),
                clock: builder.clock,
                staleness_limit: builder.staleness_limit,
                when_stale: builder.when_stale,
                max_token_lifetime: builder.max_token_lifetime,
                leeway: builder.leeway,
                backend,
                always_fresh: connected,
                connected: AtomicBool::new(connected),
                fresh_at: AtomicU64::new(if connected { now } else { 0 }),
                stale_reported: AtomicBool::new(false),
                generation: AtomicU64::new(1),
                status,
            }),
        }
    }

    /// Records a revocation: in the shared store first (with Redis), then in this replica, so
    /// this process honours it as soon as the call returns and other instances within one
    /// pub/sub round trip.
    ///
    /// # Errors
    /// An empty identifier, or (Redis) the shared store could not record it; then nothing changed.
    pub async fn revoke(&self, revocation: Revocation) -> Result<(), RevocationError> {
        self.revoke_all(vec![revocation]).await
    }

    /// Records several revocations (see [`RevocationStore::revoke`]).
    ///
    /// # Errors
    /// As [`RevocationStore::revoke`]; with Redis, those written before a failure stay written.
    pub async fn revoke_all(&self, revocations: Vec<Revocation>) -> Result<(), RevocationError> {
        let inner = &*self.inner;
        let now = inner.clock.now().as_secs();
        let mut resolved = Vec::with_capacity(revocations.len());
        for revocation in revocations {
            let empty = match &revocation {
                Revocation::Token { jti, .. } => jti.is_empty().then_some("jti"),
                Revocation::Session { origin_jti, .. } => {
                    origin_jti.is_empty().then_some("origin_jti")
                }
                Revocation::User { issuer, sub, .. } => {
                    (issuer.is_empty() || sub.is_empty()).then_some("issuer or sub")
                }
            };
            if let Some(what) = empty {
                return Err(RevocationError::Empty(what));
            }
            resolved.push(revocation.resolve(now, inner.max_token_lifetime, inner.leeway));
        }
        match &inner.backend {
            Backend::Memory => {}
            #[cfg(feature = "redis")]
            Backend::Redis(backend) => backend.write(&resolved, now).await?,
        }
        self.apply(&resolved);
        Ok(())
    }

    /// Applies revocations to the replica (local writes and changes from other instances).
    pub(crate) fn apply(&self, revocations: &[Revocation]) {
        let now = self.inner.clock.now().as_secs();
        let changed = self.inner.replica.insert(revocations, now);
        if changed > 0 {
            // After the insert: a check that reads the new generation sees the new entries.
            self.inner.generation.fetch_add(1, Ordering::AcqRel);
            self.update_status(|status| status.applied += changed as u64);
        }
    }

    /// Answers whether a verified token may pass: `revoked_token` if the replica holds an entry
    /// matching it, `revocation_unavailable` if the replica has been cut off from the shared store
    /// longer than the staleness limit and the store is configured to refuse. Never awaits.
    ///
    /// # Errors
    /// `revoked_token` (401) or `revocation_unavailable` (503).
    pub fn check(&self, token: &VerifiedToken) -> Result<(), Error> {
        self.lookup(token)?;
        self.check_fresh()
    }

    /// [`RevocationStore::check`] for the verifier, whose tokens (one store per verifier) carry
    /// the generation at which they were last found not revoked: while no revocation has been
    /// added since, the replica is not asked again. Entries only ever appear with a new
    /// generation, and expiring ones can only stop matching, so the memo cannot admit a token
    /// the full lookup would refuse.
    #[inline]
    pub(crate) fn check_memoized(&self, token: &VerifiedToken) -> Result<(), Error> {
        let generation = self.inner.generation.load(Ordering::Acquire);
        if token.revocation_memo.get() != generation {
            self.lookup(token)?;
            token.revocation_memo.set(generation);
        }
        self.check_fresh()
    }

    /// Whether the replica was proven complete within the staleness limit. Connected or not:
    /// a connection that went silent without a reset still looks connected.
    #[inline]
    fn check_fresh(&self) -> Result<(), Error> {
        let inner = &*self.inner;
        if inner.always_fresh {
            return Ok(());
        }
        let fresh_at = inner.fresh_at.load(Ordering::Acquire);
        let now = inner.clock.now().as_secs();
        if fresh_at != 0 && now.saturating_sub(fresh_at) <= inner.staleness_limit.as_secs() {
            return Ok(());
        }
        self.check_stale(now)
    }

    /// `revoked_token` if a live entry matches the token, or if the token could outlive the
    /// entries that would refuse it: a session's and a user's are kept for the longest token
    /// life (`max_token_lifetime`) from the revocation or cut-off, so a token living longer,
    /// or whose issue time is unknown, could be admitted again once they are forgotten.
    fn lookup(&self, token: &VerifiedToken) -> Result<(), Error> {
        let inner = &*self.inner;
        let lifetime = inner.max_token_lifetime.as_secs_f64();
        if token
            .issued_at()
            .is_none_or(|iat| token.expires_at() - iat > lifetime)
        {
            return Err(Error::new(
                ErrorKind::RevokedToken,
                "the token has no iat or lives longer than the revocation store remembers a \
                 sign-out (max_token_lifetime)",
            ));
        }
        let now = inner.clock.now().as_secs();
        let replica = &inner.replica;
        if let Some(jti) = token.jti()
            && replica.get(Key::Token(jti), now).is_some()
        {
            return Err(Error::new(
                ErrorKind::RevokedToken,
                "the token's jti is revoked",
            ));
        }
        if let Some(origin_jti) = token.origin_jti()
            && replica.get(Key::Session(origin_jti), now).is_some()
        {
            return Err(Error::new(
                ErrorKind::RevokedToken,
                "the token's session (origin_jti) is revoked",
            ));
        }
        if let Some(sub) = token.sub()
            && let Some(entry) = replica.get(
                Key::User {
                    issuer: token.issuer(),
                    sub,
                },
                now,
            )
            && token
                .issued_at()
                .is_none_or(|iat| iat < f64::from(entry.cutoff) + 1.0)
        {
            return Err(Error::new(
                ErrorKind::RevokedToken,
                "the user signed out after the token was issued",
            ));
        }
        Ok(())
    }

    #[cold]
    fn check_stale(&self, now: u64) -> Result<(), Error> {
        let inner = &*self.inner;
        let fresh_at = inner.fresh_at.load(Ordering::Acquire);
        let age = if fresh_at == 0 {
            None
        } else {
            Some(now.saturating_sub(fresh_at))
        };
        if age.is_some_and(|age| age <= inner.staleness_limit.as_secs()) {
            return Ok(());
        }
        if !inner.stale_reported.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                target: "cognito_authz::revocation",
                age_secs = age,
                limit_secs = inner.staleness_limit.as_secs(),
                when_stale = inner.when_stale.as_str(),
                "revocation replica is stale beyond its limit (never synchronised when age is absent)"
            );
        }
        match inner.when_stale {
            WhenStale::Serve => Ok(()),
            WhenStale::Refuse => Err(Error::new(
                ErrorKind::RevocationUnavailable,
                "revocation replica stale beyond its limit",
            )),
        }
    }

    /// The store's state now.
    pub fn status(&self) -> RevocationStatus {
        let mut status = *self.inner.status.borrow();
        status.entries = self.inner.replica.len();
        status
    }

    /// A receiver that sees every change of [`RevocationStore::status`] (connections, applied
    /// revocations, resyncs): await a change instead of sleeping.
    pub fn subscribe(&self) -> watch::Receiver<RevocationStatus> {
        self.inner.status.subscribe()
    }

    /// Waits until the replica follows the shared store (at once for the memory backend).
    ///
    /// # Errors
    /// Not connected within `timeout`.
    pub async fn wait_until_connected(&self, timeout: Duration) -> Result<(), RevocationError> {
        let mut receiver = self.subscribe();
        tokio::time::timeout(timeout, receiver.wait_for(|status| status.connected))
            .await
            .map_err(|_| RevocationError::Unavailable("not connected in time".to_owned()))?
            .map(|_| ())
            .map_err(|_| RevocationError::Unavailable("store dropped".to_owned()))
    }

    /// Approximate bytes the replica's tables take (for capacity planning).
    pub fn replica_bytes(&self) -> usize {
        self.inner.replica.heap_bytes()
    }

    /// Drops expired entries from the replica now (the Redis backend does it at every resync).
    pub fn purge_expired(&self) {
        self.inner
            .replica
            .purge_expired(self.inner.clock.now().as_secs());
    }

    pub(crate) fn update_status(&self, change: impl FnOnce(&mut RevocationStatus)) {
        let entries = self.inner.replica.len();
        self.inner.status.send_modify(|status| {
            change(status);
            status.entries = entries;
            crate::metrics::revocation_state(
                status.connected,
                entries,
                self.inner.fresh_at.load(Ordering::Acquire),
            );
        });
    }

    /// Records a completed resynchronisation that started at clock second `started`: the
    /// replica follows the shared store and held every revocation made before `started`.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn mark_resynchronised(&self, started: u64) {
        let inner = &*self.inner;
        let fresh_at = self.advance_fresh_at(started);
        inner.connected.store(true, Ordering::Release);
        self.update_status(|status| {
            status.connected = true;
            status.resyncs += 1;
            status.fresh_at = Some(fresh_at);
        });
    }

    /// Records a heartbeat sent at clock second `sent` that came back through the
    /// subscription: every revocation published before it has been applied.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn mark_heard_since(&self, sent: u64) {
        let fresh_at = self.advance_fresh_at(sent);
        if self.inner.status.borrow().fresh_at != Some(fresh_at) {
            self.update_status(|status| status.fresh_at = Some(fresh_at));
        }
    }

    /// Moves the proof of completeness forward to `at` (never back); returns where it is.
    fn advance_fresh_at(&self, at: u64) -> u64 {
        let inner = &*self.inner;
        let at = at.max(1);
        let before = inner.fresh_at.fetch_max(at, Ordering::AcqRel);
        inner.stale_reported.store(false, Ordering::Release);
        before.max(at)
    }

    /// Records that the replica lost the shared store. It stays trusted for the staleness
    /// limit from its last proof of completeness.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn mark_disconnected(&self) {
        let inner = &*self.inner;
        if inner.connected.swap(false, Ordering::AcqRel) {
            self.update_status(|status| status.connected = false);
        }
    }

    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn now_secs(&self) -> u64 {
        self.inner.clock.now().as_secs()
    }
}

/// Per-token memo of the store generation at which the token was last found not revoked
/// (0: never checked).
#[derive(Debug, Default)]
pub(crate) struct Memo(AtomicU64);

impl Memo {
    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, generation: u64) {
        self.0.store(generation, Ordering::Relaxed);
    }
}

impl Clone for Memo {
    fn clone(&self) -> Self {
        Self(AtomicU64::new(self.get()))
    }
}

fn seconds_ceil(secs: f64) -> u64 {
    if secs.is_finite() && secs > 0.0 {
        // Saturating float-to-int conversion is what `as` does; the value is positive and finite.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let whole = secs.ceil() as u64;
        whole
    } else {
        0
    }
}

#[cfg(test)]
mod tests;
