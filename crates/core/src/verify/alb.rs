//! Tokens an Application Load Balancer signs after it authenticated a user (the
//! `x-amzn-oidc-data` header): ES256 over the segments exactly as received, the public key
//! fetched as PEM by `kid` from the load balancer's regional key endpoint.
//!
//! ALB's tokens differ from a standard JWT in ways a generic verifier gets wrong: segments
//! carry base64 padding (`=`), so the signature must be checked over the bytes as received,
//! never over a re-encoding; the key is a PEM document at
//! `https://public-keys.auth.elb.{region}.amazonaws.com/{kid}` (other hosts in GovCloud and
//! China), not a JWKS; and the header names the load balancer (`signer`) and the app client
//! (`client`), which must be checked, or any ALB in any account could mint accepted tokens.
//!
//! Checks, in order; the first failure is the result:
//!
//! | # | check | code |
//! |---|---|---|
//! | 1 | length ≤ 16 KiB | `token_too_large` |
//! | 2 | three non-empty segments of `[A-Za-z0-9_-]` with at most two `=` at the end; header and payload JSON objects without duplicate members | `malformed_token` |
//! | 3 | header `alg` is `ES256`, no `crit` header | `unsupported_alg` |
//! | 4 | header `signer` is a configured load balancer ARN | `invalid_signer` |
//! | 5 | header `client` is a configured client id | `invalid_client` |
//! | 6 | payload `iss` (and header `iss`, when present) is the configured issuer | `invalid_issuer` |
//! | 7 | header `kid` present and a UUID (never any other text in a URL) | `missing_kid` / `malformed_token` |
//! | 8 | the key: cached, or fetched once (single-flight); a 403/404 is `unknown_kid`, anything else `jwks_unavailable` | `unknown_kid` / `jwks_unavailable` |
//! | 9 | ES256 signature over `header.payload` as received | `invalid_signature` |
//! | 10 | `exp` present and `now < exp + leeway` | `expired` |
//! | 11 | `nbf`, when present, `≤ now + leeway` | `not_yet_valid` |
//!
//! The payload is the identity provider's user-info, which the ALB copies in: whatever it
//! holds under the names of Cognito's claims, a verified ALB token has no groups, scopes or
//! token use (so `group:`, `scope:` and `token_use:` atoms never hold), and its client is the
//! one the signed header names (what `client:` atoms compare).
//!
//! Keys are cached by kid (at most [`AlbConfigBuilder::max_keys`], oldest dropped first).
//! Concurrent requests for one uncached kid share one fetch, and at most four uncached kids
//! are fetched per region in each [`AlbConfigBuilder::min_refresh_interval`]: a flood of
//! invented kids costs four fetches per interval and grows nothing; the rest are refused with
//! `unknown_kid` without a fetch. The budget is shared by forged and real kids alike (nothing
//! before the key tells them apart), so a forger who knows the ARN and a client id can keep a
//! key not yet cached out for as long as it sends four invented kids per interval; keys already
//! cached are unaffected.
//!
//! A fetch runs as its own tokio task: when every request waiting for it is cancelled (the
//! clients hung up) it still ends within [`AlbConfigBuilder::timeout`], caches the key if it
//! got one and clears its entry. A request never joins a fetch that started a whole timeout
//! ago or more (such a fetch is stopped and forgotten), and at most 64 fetches are under way at
//! once, so hung-up requests with invented kids leave nothing behind. Sums of a clock reading
//! and a configured duration saturate: a timeout or interval of `Duration::MAX` means "never",
//! not a panic.
//!
//! With the `metrics` feature, key fetches and refusals are counted under the JWKS metrics'
//! names (`cognito_authz_jwks_fetches_total`, `cognito_authz_jwks_fetch_duration_seconds`,
//! `cognito_authz_jwks_cooldown_refusals_total`) with `source` set to `alb:` and the region's
//! key endpoint (`alb:https://public-keys.auth.elb.us-east-2.amazonaws.com/`), never the kid:
//! one series per configured region, however many kids are asked for. A fetch the endpoint
//! answers with 403 or 404 (it has no key of that kid) counts as `result="unknown_kid"`, apart
//! from the failures of the endpoint itself.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ParsedPublicKey};
use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
// The tests build pending fetches with `.boxed().shared()`.
#[cfg(test)]
use futures_util::FutureExt as _;
use serde_json::{Map, Value};

use crate::edge::token_source::HeaderLookup;
use crate::error::{ConfigError, Error, ErrorKind};
use crate::jwks::FetchError;
use crate::metrics::SourceCounters;
use crate::shared_fetch::{self, SharedFetch};
use crate::verify::claims::VerifiedToken;
use crate::verify::clock::{SharedClock, SystemClock};
use crate::verify::config::is_loopback_url;
use crate::verify::registered::{Claims, Header};

/// The header an ALB puts its signed user claims in.
pub const ALB_DATA_HEADER: &str = "x-amzn-oidc-data";

/// The longest token accepted.
const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Fetches of uncached kids allowed per region and refresh interval: enough for several load
/// balancers rotating at once, few enough that a flood of invented kids costs nothing.
const FETCHES_PER_INTERVAL: u32 = 4;
/// Key fetches under way at most, all regions together: each ends within the fetch timeout,
/// so this only binds when the timeout is far longer than the refresh interval.
const MAX_FETCHES_IN_FLIGHT: usize = 64;
/// The largest PEM document read from the key endpoint.
const MAX_PEM_BYTES: usize = 8 * 1024;

/// base64url that accepts the padding ALB adds and its absence alike.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A load balancer whose tokens are accepted, read from its ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LoadBalancer {
    arn: String,
    partition: String,
    region: String,
}

impl LoadBalancer {
    /// `arn:{partition}:elasticloadbalancing:{region}:{account}:loadbalancer/app/{name}/{id}`.
    fn parse(arn: &str) -> Result<Self, ConfigError> {
        let bad = || {
            ConfigError::new(
                crate::ConfigErrorKind::Alb,
                format!("{arn:?} is not an Application Load Balancer ARN"),
            )
        };
        let mut parts = arn.splitn(6, ':');
        let (scheme, partition, service, region, account, resource) = (
            parts.next().ok_or_else(bad)?,
            parts.next().ok_or_else(bad)?,
            parts.next().ok_or_else(bad)?,
            parts.next().ok_or_else(bad)?,
            parts.next().ok_or_else(bad)?,
            parts.next().ok_or_else(bad)?,
        );
        let region_ok = !region.is_empty()
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if scheme != "arn"
            || !matches!(partition, "aws" | "aws-us-gov" | "aws-cn")
            || service != "elasticloadbalancing"
            || !region_ok
            || account.len() != 12
            || !account.bytes().all(|b| b.is_ascii_digit())
            || !resource.starts_with("loadbalancer/app/")
        {
            return Err(bad());
        }
        Ok(Self {
            arn: arn.to_owned(),
            partition: partition.to_owned(),
            region: region.to_owned(),
        })
    }

    /// Where this load balancer's region publishes its keys (`{kid}` appended).
    fn key_base(&self) -> String {
        let region = &self.region;
        match self.partition.as_str() {
            "aws-us-gov" => {
                format!("https://s3-{region}.amazonaws.com/aws-elb-public-keys-prod-{region}/")
            }
            "aws-cn" => format!("https://public-keys.auth.elb.{region}.amazonaws.com.cn/"),
            _ => format!("https://public-keys.auth.elb.{region}.amazonaws.com/"),
        }
    }
}

/// What is accepted from which load balancers; see the module docs for the checks.
#[derive(Debug, Clone)]
pub struct AlbConfig {
    load_balancers: Vec<LoadBalancer>,
    client_ids: Vec<String>,
    issuer: String,
    key_base: Option<String>,
    leeway: Duration,
    timeout: Duration,
    min_refresh_interval: Duration,
    max_keys: usize,
    clock: SharedClock,
}

/// Builds an [`AlbConfig`]; load balancer ARNs, client ids and the issuer are required.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct AlbConfigBuilder {
    arns: Vec<String>,
    client_ids: Vec<String>,
    issuer: Option<String>,
    key_base: Option<String>,
    leeway: Duration,
    timeout: Option<Duration>,
    min_refresh_interval: Option<Duration>,
    max_keys: Option<usize>,
    clock: Option<SharedClock>,
}

impl AlbConfig {
    /// A builder.
    pub fn builder() -> AlbConfigBuilder {
        AlbConfigBuilder::default()
    }

    /// Where the keys of tokens signed by `signer` are fetched from (`{kid}` appended).
    fn key_base_of(&self, signer: &LoadBalancer) -> String {
        self.key_base.clone().unwrap_or_else(|| signer.key_base())
    }

    /// The URL the key `kid` of tokens signed by `signer` is fetched from.
    fn key_url(&self, signer: &LoadBalancer, kid: &str) -> String {
        format!("{}{kid}", self.key_base_of(signer))
    }
}

impl AlbConfigBuilder {
    /// Accept tokens signed by this load balancer (its full ARN; repeatable). The key
    /// endpoint's region and partition come from the ARN, so GovCloud and China work.
    pub fn load_balancer_arn(mut self, arn: impl Into<String>) -> Self {
        self.arns.push(arn.into());
        self
    }

    /// Accept tokens of these app clients (the header's `client`).
    pub fn client_ids<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.client_ids.extend(ids.into_iter().map(Into::into));
        self
    }

    /// The identity provider's issuer the ALB authenticated against (`iss`), e.g. the user
    /// pool's `https://cognito-idp.{region}.amazonaws.com/{poolId}`.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Fetch keys from `{base}{kid}` instead of the load balancer's regional endpoint (local
    /// tests). Plain `http://` only to a loopback host.
    pub fn key_url_base(mut self, base: impl Into<String>) -> Self {
        self.key_base = Some(base.into());
        self
    }

    /// Clock skew allowed on `exp` (default 0).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Total time for one key fetch (default 3 s); a request never joins a fetch older than
    /// this.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// At most one fetch of an uncached kid per region in this interval (default 30 s).
    pub fn min_refresh_interval(mut self, interval: Duration) -> Self {
        self.min_refresh_interval = Some(interval);
        self
    }

    /// Keys kept at most (default 64; the oldest is dropped first).
    pub fn max_keys(mut self, max: usize) -> Self {
        self.max_keys = Some(max);
        self
    }

    /// The clock for `exp` and the refresh interval (default: the system clock).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// No ARN, an ARN that is not an Application Load Balancer's, no client id, no issuer, a
    /// key URL over plain HTTP to a non-loopback host, a zero timeout, or `max_keys` of 0.
    pub fn build(self) -> Result<AlbConfig, ConfigError> {
        if self.arns.is_empty() {
            return Err(ConfigError::new(
                crate::ConfigErrorKind::Alb,
                "an ALB verifier needs at least one load balancer ARN",
            ));
        }
        let load_balancers = self
            .arns
            .iter()
            .map(|arn| LoadBalancer::parse(arn))
            .collect::<Result<Vec<_>, _>>()?;
        if self.client_ids.is_empty() || self.client_ids.iter().any(String::is_empty) {
            return Err(ConfigError::new(
                crate::ConfigErrorKind::Alb,
                "an ALB verifier needs its app client ids",
            ));
        }
        let issuer = self
            .issuer
            .filter(|issuer| !issuer.is_empty())
            .ok_or_else(|| {
                ConfigError::new(
                    crate::ConfigErrorKind::Alb,
                    "an ALB verifier needs the issuer (`iss`)",
                )
            })?;
        if let Some(base) = &self.key_base
            && !(base.starts_with("https://")
                || (base.starts_with("http://") && is_loopback_url(base)))
        {
            return Err(ConfigError::new(
                crate::ConfigErrorKind::Alb,
                format!("ALB key URL {base:?} must be HTTPS (plain HTTP only to a loopback host)"),
            ));
        }
        let max_keys = self.max_keys.unwrap_or(64);
        if max_keys == 0 {
            return Err(ConfigError::new(
                crate::ConfigErrorKind::Alb,
                "max_keys must be at least 1",
            ));
        }
        let timeout = self.timeout.unwrap_or(Duration::from_secs(3));
        if timeout.is_zero() {
            return Err(ConfigError::new(
                crate::ConfigErrorKind::Alb,
                "the ALB key fetch timeout must be positive",
            ));
        }
        Ok(AlbConfig {
            load_balancers,
            client_ids: self.client_ids,
            issuer,
            key_base: self.key_base,
            leeway: self.leeway,
            timeout,
            min_refresh_interval: self.min_refresh_interval.unwrap_or(Duration::from_secs(30)),
            max_keys,
            clock: self.clock.unwrap_or_else(|| SharedClock::new(SystemClock)),
        })
    }
}

type KeyFetch = SharedFetch<Result<Arc<ParsedPublicKey>, ErrorKind>>;

/// A key fetch under way: what requests for its kid join, when it started, its number, and
/// (when it runs as its own task) the handle that stops it.
struct InFlight {
    fetch: KeyFetch,
    started: Duration,
    generation: u64,
    abort: Option<tokio::task::AbortHandle>,
}

#[derive(Default)]
struct KeyState {
    keys: HashMap<String, Arc<ParsedPublicKey>>,
    order: VecDeque<String>,
    in_flight: HashMap<String, InFlight>,
    /// Numbers fetches in the order they start, so a finished fetch clears only its own entry.
    next_generation: u64,
    /// Per region: when the current fetch window started and how many fetches it had.
    windows: HashMap<String, (Duration, u32)>,
}

impl KeyState {
    /// Drops (and stops) every fetch that started at least `timeout` ago: its own timeout has
    /// run out, so whatever it still holds is no answer to give anyone.
    fn forget_expired_fetches(&mut self, now: Duration, timeout: Duration) {
        self.in_flight.retain(|_, in_flight| {
            let fresh = now < in_flight.started.saturating_add(timeout);
            if !fresh && let Some(abort) = &in_flight.abort {
                abort.abort();
            }
            fresh
        });
    }

    /// Clears the fetch of `kid` if it is still fetch `generation` (a newer one stays).
    fn forget_fetch(&mut self, kid: &str, generation: u64) {
        if self
            .in_flight
            .get(kid)
            .is_some_and(|in_flight| in_flight.generation == generation)
        {
            self.in_flight.remove(kid);
        }
    }
}

/// Verifies `x-amzn-oidc-data` tokens. Cheap to clone.
#[derive(Clone)]
pub struct AlbVerifier {
    inner: Arc<AlbInner>,
}

struct AlbInner {
    config: AlbConfig,
    client: reqwest::Client,
    state: Mutex<KeyState>,
    fetches: std::sync::atomic::AtomicU64,
    /// Per configured load balancer (same order): the key endpoint its fetches are counted
    /// under.
    endpoints: Vec<KeyEndpoint>,
}

/// The metrics source of one load balancer's key endpoint: `alb:` and the endpoint (one per
/// region, never a kid).
struct KeyEndpoint {
    source: Arc<str>,
    refusals: SourceCounters,
}

impl std::fmt::Debug for AlbVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlbVerifier")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl AlbVerifier {
    /// A verifier for `config`.
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(config: AlbConfig) -> Result<Self, ConfigError> {
        let client = crate::jwks::http_client().map_err(|error| {
            ConfigError::new(crate::ConfigErrorKind::Alb, format!("HTTP client: {error}"))
                .caused_by(error)
        })?;
        let endpoints = config
            .load_balancers
            .iter()
            .map(|signer| KeyEndpoint {
                source: Arc::from(format!("alb:{}", config.key_base_of(signer))),
                refusals: SourceCounters::default(),
            })
            .collect();
        Ok(Self {
            inner: Arc::new(AlbInner {
                config,
                client,
                state: Mutex::new(KeyState::default()),
                fetches: std::sync::atomic::AtomicU64::new(0),
                endpoints,
            }),
        })
    }

    /// Key fetches started so far.
    pub fn fetch_count(&self) -> u64 {
        self.inner
            .fetches
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs the checks of the module docs on `token` (the header value as sent).
    ///
    /// # Errors
    /// The first failing check's [`Error`].
    pub async fn verify(&self, token: &str) -> Result<Arc<VerifiedToken>, Error> {
        let config = &self.inner.config;
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Error::new(ErrorKind::TokenTooLarge, "token too large"));
        }
        let mut segments = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(malformed("not three segments"));
        };
        let header_json = decode_segment(header_b64)?;
        let payload_json = decode_segment(payload_b64)?;
        let signature = decode_segment(signature_b64)?;
        let header_text =
            std::str::from_utf8(&header_json).map_err(|_| malformed("header is not UTF-8"))?;
        let payload_text =
            std::str::from_utf8(&payload_json).map_err(|_| malformed("payload is not UTF-8"))?;
        // Duplicate members and mistyped registered members are refused as for Cognito tokens.
        let header_checked = Header::parse(header_text)?;
        let claims = Claims::parse(payload_text)?;
        let header: Map<String, Value> =
            serde_json::from_str(header_text).map_err(|_| malformed("header is not an object"))?;
        if header_checked.alg.as_deref() != Some("ES256") || header_checked.crit {
            return Err(Error::new(
                ErrorKind::UnsupportedAlg,
                "alg is not ES256, or a crit header is present",
            ));
        }
        let (signer_index, signer) = header
            .get("signer")
            .and_then(Value::as_str)
            .and_then(|signer| {
                config
                    .load_balancers
                    .iter()
                    .enumerate()
                    .find(|(_, lb)| lb.arn == signer)
            })
            .ok_or(Error::new(
                ErrorKind::InvalidSigner,
                "signer is not a configured load balancer",
            ))?;
        let client = header
            .get("client")
            .and_then(Value::as_str)
            .filter(|client| config.client_ids.iter().any(|id| id == client))
            .ok_or(Error::new(
                ErrorKind::InvalidClient,
                "client is not a configured app client",
            ))?;
        let header_iss_ok = header
            .get("iss")
            .is_none_or(|iss| iss.as_str() == Some(config.issuer.as_str()));
        if claims.iss.as_deref() != Some(config.issuer.as_str()) || !header_iss_ok {
            return Err(Error::new(
                ErrorKind::InvalidIssuer,
                "iss is not the configured issuer",
            ));
        }
        let kid = header_checked
            .kid
            .as_deref()
            .ok_or(Error::new(ErrorKind::MissingKid, "no kid"))?;
        if !is_uuid(kid) {
            return Err(malformed("kid is not a UUID"));
        }
        let key = self.key(signer, signer_index, kid).await?;
        // The signed bytes are the segments exactly as received, padding included.
        let signed = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
        key.verify_sig(signed, &signature)
            .map_err(|_| Error::new(ErrorKind::InvalidSignature, "signature does not verify"))?;
        let now = config.clock.now().as_secs_f64();
        let leeway = config.leeway.as_secs_f64();
        match claims.exp {
            Some(exp) if now < exp + leeway => {}
            _ => return Err(Error::new(ErrorKind::Expired, "exp missing or passed")),
        }
        if claims.nbf.is_some_and(|nbf| now < nbf - leeway) {
            return Err(Error::new(ErrorKind::NotYetValid, "now is before nbf"));
        }
        let name: Arc<str> = Arc::from("alb");
        let mut verified = VerifiedToken::from_alb_claims(name, kid, claims, client);
        verified.payload_json = payload_text.into();
        Ok(Arc::new(verified))
    }

    /// The key `kid` of tokens signed by `signer`, the `signer_index`th configured load
    /// balancer.
    async fn key(
        &self,
        signer: &LoadBalancer,
        signer_index: usize,
        kid: &str,
    ) -> Result<Arc<ParsedPublicKey>, Error> {
        let inner = &self.inner;
        let fetch = {
            let mut state = inner.state.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(key) = state.keys.get(kid) {
                return Ok(Arc::clone(key));
            }
            let now = inner.config.clock.now();
            state.forget_expired_fetches(now, inner.config.timeout);
            if let Some(in_flight) = state.in_flight.get(kid) {
                in_flight.fetch.clone()
            } else {
                self.start_fetch(&mut state, signer, signer_index, kid, now)?
            }
        };
        fetch.await.map_err(|kind| match kind {
            ErrorKind::UnknownKid => Error::new(kind, "the key endpoint does not know this kid"),
            _ => Error::new(ErrorKind::JwksUnavailable, "ALB key endpoint unavailable"),
        })
    }

    /// Starts the fetch of `kid` if the region's budget and the bound on fetches under way
    /// allow it.
    fn start_fetch(
        &self,
        state: &mut KeyState,
        signer: &LoadBalancer,
        signer_index: usize,
        kid: &str,
        now: Duration,
    ) -> Result<KeyFetch, Error> {
        let inner = &self.inner;
        let endpoint = inner.endpoints.get(signer_index);
        let refused = || {
            if let Some(endpoint) = endpoint {
                endpoint.refusals.cooldown_refusal(&endpoint.source);
            }
        };
        let interval = inner.config.min_refresh_interval;
        let window = state
            .windows
            .entry(signer.region.clone())
            .or_insert((now, 0));
        if now >= window.0.saturating_add(interval) {
            *window = (now, 0);
        }
        if window.1 >= FETCHES_PER_INTERVAL {
            refused();
            tracing::debug!(region = %signer.region, "ALB key fetch refused: inside the cooldown");
            return Err(Error::new(ErrorKind::UnknownKid, "unknown kid (cooldown)"));
        }
        if state.in_flight.len() >= MAX_FETCHES_IN_FLIGHT {
            refused();
            tracing::debug!(region = %signer.region, "ALB key fetch refused: too many fetches under way");
            return Err(Error::new(
                ErrorKind::UnknownKid,
                "unknown kid (too many fetches under way)",
            ));
        }
        window.1 += 1;
        inner
            .fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        state.next_generation += 1;
        let generation = state.next_generation;
        let source = endpoint.map_or_else(
            || Arc::from(format!("alb:{}", inner.config.key_base_of(signer))),
            |endpoint| Arc::clone(&endpoint.source),
        );
        let task = fetch_key(
            Arc::downgrade(inner),
            inner.client.clone(),
            inner.config.timeout,
            KeyRequest {
                url: inner.config.key_url(signer, kid),
                source,
                kid: kid.to_owned(),
                generation,
            },
        );
        // Its own task where there is a runtime: it runs to its end (and its key is cached)
        // even when every request waiting for it is cancelled, and it clears its own entry.
        // Without a runtime the waiters drive it, and the age check in `key` keeps a stranded
        // one from being joined later. A task stopped (as expired) or whose runtime shut down
        // is forgotten, so the next request starts a fetch instead of joining a dead one.
        let owned_kid = kid.to_owned();
        let (fetch, abort) = shared_fetch::start(
            task,
            Arc::downgrade(inner),
            move |inner: &AlbInner| {
                inner
                    .state
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .forget_fetch(&owned_kid, generation);
            },
            Err(ErrorKind::JwksUnavailable),
        );
        state.in_flight.insert(
            kid.to_owned(),
            InFlight {
                fetch: fetch.clone(),
                started: now,
                generation,
                abort,
            },
        );
        Ok(fetch)
    }
}

/// One key fetch: where from, the metrics source it counts under, the kid and the fetch's
/// number.
struct KeyRequest {
    url: String,
    source: Arc<str>,
    kid: String,
    generation: u64,
}

/// Fetches the key of `request.kid` within `timeout`, counts and times the fetch under its
/// source, and records the key in the verifier's cache (unless the verifier is gone), clearing
/// this fetch's in-flight entry.
async fn fetch_key(
    inner: std::sync::Weak<AlbInner>,
    client: reqwest::Client,
    timeout: Duration,
    request: KeyRequest,
) -> Result<Arc<ParsedPublicKey>, ErrorKind> {
    let KeyRequest {
        url,
        source,
        kid,
        generation,
    } = request;
    let started = std::time::Instant::now();
    let fetched = tokio::time::timeout(timeout, fetch_pem(&client, &url))
        .await
        .unwrap_or(Err(FetchError::Timeout))
        .and_then(|pem| parse_pem(&pem).ok_or(FetchError::NoUsableKey));
    let outcome = match &fetched {
        Ok(_) => "ok",
        // The endpoint's answer for a kid it has no key for: a flood of invented kids is
        // told apart from an endpoint that fails.
        Err(FetchError::Status(403 | 404)) => "unknown_kid",
        Err(error) => crate::metrics::fetch_failure(error),
    };
    crate::metrics::key_fetch(&source, outcome, started.elapsed());
    // The endpoint's answer for a kid it does not know is 403 or 404; a body that is not a
    // P-256 key is no key for this kid either.
    let result = fetched.map_err(|error| match error {
        FetchError::Status(403 | 404) | FetchError::NoUsableKey => ErrorKind::UnknownKid,
        _ => ErrorKind::JwksUnavailable,
    });
    let Some(inner) = inner.upgrade() else {
        return result;
    };
    let mut state = inner.state.lock().unwrap_or_else(PoisonError::into_inner);
    state.forget_fetch(&kid, generation);
    match &result {
        Ok(key) => {
            if !state.keys.contains_key(&kid) {
                if state.keys.len() >= inner.config.max_keys
                    && let Some(oldest) = state.order.pop_front()
                {
                    state.keys.remove(&oldest);
                }
                state.order.push_back(kid.clone());
            }
            state.keys.insert(kid, Arc::clone(key));
            tracing::debug!(url = %url, "ALB key fetched");
        }
        Err(kind) => tracing::warn!(url = %url, code = kind.code(), "ALB key fetch failed"),
    }
    result
}

/// The identity of a request behind an ALB: exactly one `x-amzn-oidc-data` header, verified.
pub(crate) async fn identify<H: HeaderLookup + ?Sized>(
    alb: &AlbVerifier,
    headers: &H,
) -> Result<Arc<VerifiedToken>, Error> {
    let name = http::HeaderName::from_static(ALB_DATA_HEADER);
    let mut values = headers.values(&name);
    let Some(value) = values.next() else {
        return Err(Error::new(
            ErrorKind::MissingToken,
            "no x-amzn-oidc-data header",
        ));
    };
    if values.next().is_some() {
        return Err(Error::new(
            ErrorKind::InvalidRequest,
            "two x-amzn-oidc-data headers",
        ));
    }
    let token = std::str::from_utf8(value)
        .map_err(|_| malformed("x-amzn-oidc-data is not text"))?
        .trim();
    alb.verify(token).await
}

/// The body of the key endpoint's 200 answer, at most [`MAX_PEM_BYTES`].
async fn fetch_pem(client: &reqwest::Client, url: &str) -> Result<Vec<u8>, FetchError> {
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|error| crate::jwks::classify_transport_error(&error))?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(FetchError::Status(status));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| crate::jwks::classify_transport_error(&error))?
    {
        if body.len() + chunk.len() > MAX_PEM_BYTES {
            return Err(FetchError::TooLarge(MAX_PEM_BYTES));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A `PUBLIC KEY` PEM document holding a P-256 key.
fn parse_pem(pem: &[u8]) -> Option<Arc<ParsedPublicKey>> {
    let text = std::str::from_utf8(pem).ok()?;
    let body = text
        .trim()
        .strip_prefix("-----BEGIN PUBLIC KEY-----")?
        .strip_suffix("-----END PUBLIC KEY-----")?;
    let compact: String = body.split_whitespace().collect();
    let der = STANDARD.decode(compact).ok()?;
    ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, der)
        .ok()
        .map(Arc::new)
}

/// One segment: `[A-Za-z0-9_-]+` then at most two `=`; decoded with or without padding.
fn decode_segment(segment: &str) -> Result<Vec<u8>, Error> {
    let unpadded = segment.trim_end_matches('=');
    if unpadded.is_empty()
        || segment.len() - unpadded.len() > 2
        || !unpadded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(malformed("a segment is not base64url"));
    }
    LENIENT
        .decode(segment)
        .map_err(|_| malformed("a segment is not base64url"))
}

fn is_uuid(kid: &str) -> bool {
    let bytes = kid.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            8 | 13 | 18 | 23 => *byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        })
}

const fn malformed(detail: &'static str) -> Error {
    Error::new(ErrorKind::MalformedToken, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_endpoints_follow_the_arns_partition_and_region() {
        let cases = [
            (
                "arn:aws:elasticloadbalancing:us-east-2:123456789012:loadbalancer/app/web/50dc6c495c0c9188",
                "https://public-keys.auth.elb.us-east-2.amazonaws.com/",
            ),
            (
                "arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188",
                "https://s3-us-gov-west-1.amazonaws.com/aws-elb-public-keys-prod-us-gov-west-1/",
            ),
            (
                "arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188",
                "https://public-keys.auth.elb.cn-north-1.amazonaws.com.cn/",
            ),
        ];
        for (arn, base) in cases {
            let lb = LoadBalancer::parse(arn).unwrap_or_else(|e| panic!("{arn}: {e}"));
            assert_eq!(lb.key_base(), base);
        }
        for bad in [
            "",
            "arn:aws:elasticloadbalancing:us-east-2:123456789012:loadbalancer/net/x/1",
            "arn:aws:elasticloadbalancing:us-east-2:1234:loadbalancer/app/x/1",
            "arn:aws:elasticloadbalancing:evil.com/x:123456789012:loadbalancer/app/x/1",
            "arn:other:elasticloadbalancing:us-east-2:123456789012:loadbalancer/app/x/1",
            "arn:aws:ec2:us-east-2:123456789012:loadbalancer/app/x/1",
        ] {
            assert!(LoadBalancer::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn segments_accept_padding_but_nothing_else() {
        assert_eq!(decode_segment("e30").ok(), Some(b"{}".to_vec()));
        assert_eq!(decode_segment("e30=").ok(), Some(b"{}".to_vec()));
        for bad in ["", "=", "e30===", "e3+0", "e3/0", "e30 ", "e=30", "e30=x"] {
            assert!(decode_segment(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn kids_must_be_uuids() {
        assert!(is_uuid("4a5c7b8d-1e2f-4a3b-9c8d-7e6f5a4b3c2d"));
        for bad in [
            "",
            "../../etc/passwd",
            "4a5c7b8d-1e2f-4a3b-9c8d-7e6f5a4b3c2",
            "4a5c7b8d-1e2f-4a3b-9c8d_7e6f5a4b3c2d",
            "4a5c7b8d-1e2f-4a3b-9c8d-7e6f5a4b3c2g",
        ] {
            assert!(!is_uuid(bad), "{bad}");
        }
    }

    #[tokio::test]
    async fn fetches_a_whole_timeout_old_are_stopped_and_forgotten() {
        let timeout = Duration::from_secs(3);
        let pending = || -> KeyFetch { futures_util::future::pending().boxed().shared() };
        let stuck = tokio::spawn(futures_util::future::pending::<()>());
        let mut state = KeyState::default();
        for (kid, started, abort) in [
            ("old", Duration::from_secs(10), Some(stuck.abort_handle())),
            ("young", Duration::from_secs(12), None),
        ] {
            state.in_flight.insert(
                kid.to_owned(),
                InFlight {
                    fetch: pending(),
                    started,
                    generation: 1,
                    abort,
                },
            );
        }
        state.forget_expired_fetches(Duration::from_secs(13), timeout);
        assert!(!state.in_flight.contains_key("old"));
        assert!(state.in_flight.contains_key("young"));
        assert!(stuck.await.expect_err("stopped").is_cancelled());
        // A timeout of `Duration::MAX` never expires a fetch, and never overflows.
        state.forget_expired_fetches(Duration::from_secs(u64::MAX / 2), Duration::MAX);
        assert!(state.in_flight.contains_key("young"));
        // Only the fetch that owns the entry clears it.
        state.forget_fetch("young", 2);
        assert!(state.in_flight.contains_key("young"));
        state.forget_fetch("young", 1);
        assert!(state.in_flight.is_empty());
    }

    #[test]
    fn configuration_is_checked_at_build_time() {
        let arn = "arn:aws:elasticloadbalancing:us-east-2:123456789012:loadbalancer/app/web/1";
        let ok = || {
            AlbConfig::builder()
                .load_balancer_arn(arn)
                .client_ids(["client"])
                .issuer("https://issuer.example")
        };
        assert!(ok().build().is_ok());
        // Each of the three required settings missing in turn.
        let incomplete = [
            AlbConfig::builder().client_ids(["c"]).issuer("i"),
            AlbConfig::builder().load_balancer_arn(arn).issuer("i"),
            AlbConfig::builder()
                .load_balancer_arn(arn)
                .client_ids(["c"]),
        ];
        for builder in incomplete {
            assert!(builder.build().is_err());
        }
        assert!(ok().key_url_base("http://keys.example/").build().is_err());
        assert!(ok().key_url_base("http://127.0.0.1:9/").build().is_ok());
        assert!(ok().max_keys(0).build().is_err());
        assert!(ok().timeout(Duration::ZERO).build().is_err());
        assert!(
            ok().timeout(Duration::MAX)
                .min_refresh_interval(Duration::MAX)
                .leeway(Duration::MAX)
                .build()
                .is_ok()
        );
    }
}
