//! Issuer configuration: which tokens an issuer accepts and where its keys come from.
//!
//! Three kinds: a Cognito user pool id (the normal case), a Cognito
//! issuer given as an exact string (emulators), and a generic OIDC issuer. Every builder returns
//! `Result`: a configuration that would admit more than the user asked for (no `token_use`, no
//! client ids) is an error, never an open door.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::error::ConfigError;
use crate::jwks::KeySet;
use crate::verify::claims::TokenUse;

/// Which `token_use` values a Cognito issuer accepts (required; there is no default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AcceptedTokenUse {
    /// Only id tokens.
    Id,
    /// Only access tokens.
    Access,
    /// Both.
    Any,
}

impl AcceptedTokenUse {
    /// Whether a token of `token_use` is accepted.
    pub fn accepts(self, token_use: TokenUse) -> bool {
        matches!(
            (self, token_use),
            (AcceptedTokenUse::Any, _)
                | (AcceptedTokenUse::Id, TokenUse::Id)
                | (AcceptedTokenUse::Access, TokenUse::Access)
        )
    }

    /// `"id"`, `"access"` or `"any"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            AcceptedTokenUse::Id => "id",
            AcceptedTokenUse::Access => "access",
            AcceptedTokenUse::Any => "any",
        }
    }
}

impl std::str::FromStr for AcceptedTokenUse {
    type Err = ConfigError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "id" => Ok(AcceptedTokenUse::Id),
            "access" => Ok(AcceptedTokenUse::Access),
            "any" => Ok(AcceptedTokenUse::Any),
            other => Err(ConfigError::new(
                crate::ConfigErrorKind::Issuer,
                format!("token_use must be \"id\", \"access\" or \"any\", not {other:?}"),
            )),
        }
    }
}

/// A signature algorithm the verifier can accept. Only RSA PKCS#1 v1.5 (what Cognito signs with).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (Cognito's algorithm; the default).
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
}

impl Algorithm {
    /// The JOSE name, e.g. `"RS256"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
        }
    }

    /// Parses a JOSE name, case-sensitively.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Algorithm::RS256),
            "RS384" => Some(Algorithm::RS384),
            "RS512" => Some(Algorithm::RS512),
            _ => None,
        }
    }

    pub(crate) const fn index(self) -> usize {
        match self {
            Algorithm::RS256 => 0,
            Algorithm::RS384 => 1,
            Algorithm::RS512 => 2,
        }
    }
}

/// Which clients a Cognito issuer accepts (check 14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClientRule {
    /// `aud` (id) or `client_id` (access) must be one of these.
    Only(Vec<String>),
    /// Any client of the pool: an explicit opt-out.
    Any,
}

/// What kind of issuer this is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IssuerKind {
    /// A Cognito user pool: issuers derived from the pool id and regions.
    UserPool {
        pool_id: String,
        region: String,
        replica_regions: Vec<String>,
    },
    /// Cognito rules with an exact issuer string (cognito-local, LocalStack, moto).
    CognitoIssuer(String),
    /// A generic OIDC issuer: no `token_use` rule, `aud` checked against audiences.
    Oidc(String),
}

/// Where an issuer's keys come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeyLocation {
    pub(crate) url: Option<String>,
    pub(crate) file: Option<PathBuf>,
    pub(crate) json: Option<Arc<str>>,
    /// `file`'s key set, when it was already read (by the policy-file loader, which reports a
    /// bad file at its issuer's line): the verifier takes it instead of reading the file again.
    pub(crate) loaded: LoadedKeys,
}

/// A key set read from an issuer's key file, handed over once to the verifier built from the
/// configuration (every clone of the configuration shares it; a later build reads the file
/// afresh). It is `file`'s content, so it takes no part in comparing locations.
#[derive(Clone, Default)]
pub(crate) struct LoadedKeys(Option<Arc<Mutex<Option<KeySet>>>>);

impl LoadedKeys {
    /// The set, for the first caller; `None` if there was none or it was taken.
    pub(crate) fn take(&self) -> Option<KeySet> {
        self.0
            .as_ref()?
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

impl PartialEq for LoadedKeys {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for LoadedKeys {}

impl fmt::Debug for LoadedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "LoadedKeys(read)"
        } else {
            "LoadedKeys(none)"
        })
    }
}

impl KeyLocation {
    /// The issuer's own key set: `{issuer}/.well-known/jwks.json`.
    fn well_known(issuer: &str) -> Self {
        Self {
            url: Some(format!(
                "{}/.well-known/jwks.json",
                issuer.trim_end_matches('/')
            )),
            ..Self::default()
        }
    }
}

/// The longest background refresh interval accepted: a timer further out than this is no
/// refresh at all (leave it unset), and one near `Duration::MAX` could not be scheduled.
const MAX_BACKGROUND_REFRESH: Duration = Duration::from_secs(365 * 86_400);

/// How the JWKS of an issuer is fetched and refreshed (each default is documented on its setter).
///
/// Durations may be as large as `Duration::MAX` (a cooldown or back-off that large means
/// "never again"; a timeout that large, "no timeout"), except `background_refresh`, which the
/// builder requires to be positive and at most 365 days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchSettings {
    /// At most one refresh per issuer in this interval (default 30 s).
    pub min_refresh_interval: Duration,
    /// Total time allowed for one fetch: connecting, TLS, headers, body and the one retry
    /// after a connection error all count against it (default 3 s).
    pub timeout: Duration,
    /// Largest accepted key-set body (default 256 KiB).
    pub max_body_bytes: usize,
    /// Allow `http://` to non-loopback hosts (default false: HTTPS, or plain HTTP to loopback).
    pub allow_insecure_http: bool,
    /// First back-off after a failed fetch (default 1 s), doubled per failure.
    pub backoff_initial: Duration,
    /// Largest back-off (default 60 s).
    pub backoff_max: Duration,
    /// Refresh in the background on this interval (default: off; when set, more than zero and
    /// at most 365 days).
    pub background_refresh: Option<Duration>,
}

impl Default for FetchSettings {
    fn default() -> Self {
        Self {
            min_refresh_interval: Duration::from_secs(30),
            timeout: Duration::from_secs(3),
            max_body_bytes: 256 * 1024,
            allow_insecure_http: false,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            background_refresh: None,
        }
    }
}

/// A validated issuer configuration. Build one with [`IssuerConfig::user_pool`],
/// [`IssuerConfig::cognito_issuer`] or [`IssuerConfig::oidc`].
///
/// # Example
///
/// ```
/// use cognito_authz_core::{AcceptedTokenUse, IssuerConfig};
/// let issuer = IssuerConfig::user_pool("us-east-1_Example1")
///     .client_ids(["1example23456789"])
///     .token_use(AcceptedTokenUse::Access)
///     .build()
///     .unwrap();
/// assert_eq!(
///     issuer.issuers(),
///     [
///         "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example1",
///         "https://issuer-cognito-idp.us-east-1.amazonaws.com/us-east-1_Example1",
///     ]
/// );
/// // Without token_use or client ids, building fails instead of accepting everything:
/// assert!(IssuerConfig::user_pool("us-east-1_Example1").build().is_err());
/// ```
#[derive(Debug, Clone)]
pub struct IssuerConfig {
    pub(crate) name: Arc<str>,
    pub(crate) kind: IssuerKind,
    pub(crate) token_use: Option<AcceptedTokenUse>,
    pub(crate) clients: ClientRule,
    pub(crate) leeway: Duration,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) keys: KeyLocation,
    pub(crate) fetch: FetchSettings,
}

impl IssuerConfig {
    /// A Cognito user pool, by id (`us-east-1_Example1`): the issuer and JWKS URL are derived.
    pub fn user_pool(pool_id: impl Into<String>) -> IssuerBuilder {
        IssuerBuilder::new(BuilderKind::UserPool(pool_id.into()))
    }

    /// Cognito rules with an exact issuer string, for emulators whose `iss` is not an AWS URL.
    pub fn cognito_issuer(issuer: impl Into<String>) -> IssuerBuilder {
        IssuerBuilder::new(BuilderKind::CognitoIssuer(issuer.into()))
    }

    /// A generic OIDC issuer: `aud` checked against [`IssuerBuilder::audiences`], no `token_use`.
    pub fn oidc(issuer: impl Into<String>) -> IssuerBuilder {
        IssuerBuilder::new(BuilderKind::Oidc(issuer.into()))
    }

    /// The name used in logs and by the `issuer:` policy atom.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every exact `iss` value this configuration accepts.
    pub fn issuers(&self) -> Vec<String> {
        match &self.kind {
            IssuerKind::UserPool {
                pool_id,
                region,
                replica_regions,
            } => std::iter::once(region)
                .chain(replica_regions)
                .flat_map(|region| cognito_issuers(region, pool_id))
                .collect(),
            IssuerKind::CognitoIssuer(issuer) | IssuerKind::Oidc(issuer) => vec![issuer.clone()],
        }
    }

    /// The token kinds this issuer accepts; `None` for a generic OIDC issuer (no `token_use`
    /// check: any kind of token).
    pub fn accepted_token_use(&self) -> Option<AcceptedTokenUse> {
        if self.is_cognito() {
            self.token_use
        } else {
            None
        }
    }

    /// Whether this issuer follows Cognito rules (checks 13–14 on `token_use`/`client_id`).
    pub fn is_cognito(&self) -> bool {
        !matches!(self.kind, IssuerKind::Oidc(_))
    }

    /// The configured leeway for `exp`/`nbf`/`iat`.
    pub fn leeway(&self) -> Duration {
        self.leeway
    }

    /// The JWKS fetch settings.
    pub fn fetch_settings(&self) -> &FetchSettings {
        &self.fetch
    }

    /// The same issuer with its keys read from a static key-set file instead (the CLI's
    /// `--jwks-file`).
    #[must_use]
    pub fn with_jwks_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.keys = KeyLocation {
            file: Some(path.into()),
            ..KeyLocation::default()
        };
        self
    }

    /// The same issuer with `set`, already read from its key file, handed to the verifier in
    /// place of reading the file again.
    pub(crate) fn with_loaded_keys(mut self, set: KeySet) -> Self {
        self.keys.loaded = LoadedKeys(Some(Arc::new(Mutex::new(Some(set)))));
        self
    }

    /// The same issuer with its keys fetched from `url`, checked as [`IssuerBuilder::jwks_url`] checks it
    /// (HTTPS, or plain HTTP to a loopback host): e.g. a test issuer's key server standing in
    /// for a policy file's pool.
    ///
    /// # Errors
    /// The URL is not http(s), or is plain HTTP to a non-loopback host without
    /// `allow_insecure_http`.
    pub fn with_jwks_url(mut self, url: impl Into<String>) -> Result<Self, ConfigError> {
        let url = url.into();
        check_key_url(&url, self.fetch.allow_insecure_http)?;
        self.keys = KeyLocation {
            url: Some(url),
            ..KeyLocation::default()
        };
        Ok(self)
    }

    /// The accepted app client ids (the audiences of a generic OIDC issuer); `None` when the
    /// issuer accepts any client.
    pub fn client_ids(&self) -> Option<&[String]> {
        match &self.clients {
            ClientRule::Only(ids) => Some(ids),
            ClientRule::Any => None,
        }
    }

    /// The key sets this issuer needs, each with the issuers it serves and its location.
    pub(crate) fn key_sources(&self) -> Vec<(Vec<String>, KeyLocation)> {
        let overridden =
            self.keys.url.is_some() || self.keys.file.is_some() || self.keys.json.is_some();
        match &self.kind {
            IssuerKind::UserPool {
                pool_id,
                region,
                replica_regions,
            } if !overridden => std::iter::once(region)
                .chain(replica_regions)
                .map(|region| {
                    let issuers = cognito_issuers(region, pool_id);
                    let location = KeyLocation::well_known(&issuers[0]);
                    (issuers.to_vec(), location)
                })
                .collect(),
            IssuerKind::CognitoIssuer(issuer) | IssuerKind::Oidc(issuer) if !overridden => {
                vec![(self.issuers(), KeyLocation::well_known(issuer))]
            }
            _ => vec![(self.issuers(), self.keys.clone())],
        }
    }
}

fn cognito_issuers(region: &str, pool_id: &str) -> [String; 2] {
    [
        format!("https://cognito-idp.{region}.amazonaws.com/{pool_id}"),
        format!("https://issuer-cognito-idp.{region}.amazonaws.com/{pool_id}"),
    ]
}

/// Checks an AWS region name such as `us-east-1` or `us-gov-west-1`.
pub(crate) fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|part| !part.is_empty())
        && parts[..parts.len() - 1]
            .iter()
            .all(|part| part.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

/// Splits and checks a user pool id (`{region}_{id}`), returning the region.
///
/// # Errors
/// The id is not of Cognito's form.
pub fn parse_user_pool_id(pool_id: &str) -> Result<&str, ConfigError> {
    let bad = || {
        ConfigError::new(
            crate::ConfigErrorKind::Issuer,
            format!(
                "{pool_id:?} is not a Cognito user pool id (expected REGION_ID, e.g. us-east-1_Example1)"
            ),
        )
    };
    let (region, id) = pool_id.split_once('_').ok_or_else(bad)?;
    if pool_id.len() > 55
        || !is_region(region)
        || id.is_empty()
        || !id.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(bad());
    }
    Ok(region)
}

#[derive(Debug, Clone)]
enum BuilderKind {
    UserPool(String),
    CognitoIssuer(String),
    Oidc(String),
}

/// Builds an [`IssuerConfig`]; every method consumes and returns the builder.
#[derive(Debug, Clone)]
#[must_use]
pub struct IssuerBuilder {
    kind: BuilderKind,
    name: Option<String>,
    token_use: Option<AcceptedTokenUse>,
    client_ids: Option<Vec<String>>,
    any_client: bool,
    audiences: Option<Vec<String>>,
    replica_regions: Vec<String>,
    leeway: Duration,
    algorithms: Vec<Algorithm>,
    keys: KeyLocation,
    fetch: FetchSettings,
}

impl IssuerBuilder {
    fn new(kind: BuilderKind) -> Self {
        Self {
            kind,
            name: None,
            token_use: None,
            client_ids: None,
            any_client: false,
            audiences: None,
            replica_regions: Vec::new(),
            leeway: Duration::ZERO,
            algorithms: vec![Algorithm::RS256],
            keys: KeyLocation::default(),
            fetch: FetchSettings::default(),
        }
    }

    /// Names the issuer (logs, `issuer:` atom). Default: the pool id or the issuer URL.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Which `token_use` is accepted (required for Cognito issuers).
    pub fn token_use(mut self, token_use: AcceptedTokenUse) -> Self {
        self.token_use = Some(token_use);
        self
    }

    /// The app client ids accepted (`aud` of id tokens, `client_id` of access tokens).
    pub fn client_ids<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.client_ids
            .get_or_insert_with(Vec::new)
            .extend(ids.into_iter().map(Into::into));
        self
    }

    /// Accept tokens of any app client of the pool: an explicit opt-out of check 14.
    pub fn any_client(mut self) -> Self {
        self.any_client = true;
        self
    }

    /// The audiences a generic OIDC issuer's `aud` must contain one of.
    pub fn audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audiences
            .get_or_insert_with(Vec::new)
            .extend(audiences.into_iter().map(Into::into));
        self
    }

    /// Regions the pool is replicated to: their issuers are accepted too.
    pub fn replica_regions<I, S>(mut self, regions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.replica_regions
            .extend(regions.into_iter().map(Into::into));
        self
    }

    /// Clock-skew leeway for `exp`, `nbf` and `iat` (default 0).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Allowed signature algorithms (default `[RS256]`).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Fetch the key set from this URL instead of `{issuer}/.well-known/jwks.json`.
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.keys.url = Some(url.into());
        self
    }

    /// Load the key set from a file. Alone, the set is static (never fetched); with
    /// [`IssuerBuilder::jwks_url`] it is a preload that fetches refresh.
    pub fn jwks_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.keys.file = Some(path.into());
        self
    }

    /// Load the key set from a JSON string; like [`IssuerBuilder::jwks_file`].
    pub fn jwks_json(mut self, json: impl Into<String>) -> Self {
        self.keys.json = Some(Arc::from(json.into()));
        self
    }

    /// Replaces all JWKS fetch settings.
    pub fn fetch_settings(mut self, settings: FetchSettings) -> Self {
        self.fetch = settings;
        self
    }

    /// At most one refresh per this interval (default 30 s).
    pub fn min_refresh_interval(mut self, interval: Duration) -> Self {
        self.fetch.min_refresh_interval = interval;
        self
    }

    /// Total time for one JWKS fetch, its retry included (default 3 s).
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch.timeout = timeout;
        self
    }

    /// Largest accepted JWKS body (default 256 KiB).
    pub fn max_jwks_bytes(mut self, bytes: usize) -> Self {
        self.fetch.max_body_bytes = bytes;
        self
    }

    /// Allow plain `http://` key URLs on non-loopback hosts (default false).
    ///
    /// The rule applies to every URL keys are fetched from: an explicit
    /// [`IssuerBuilder::jwks_url`] and the `{issuer}/.well-known/jwks.json` derived from an
    /// `http://` issuer alike. Meant for compose set-ups (`http://cognito-local:9229/…`) on a
    /// network you control; anyone on the path can swap plain-HTTP keys.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.fetch.allow_insecure_http = allow;
        self
    }

    /// Refresh the key set in the background on this interval (default off). It must be more
    /// than zero and at most 365 days, or [`IssuerBuilder::build`] fails.
    pub fn background_refresh(mut self, interval: Duration) -> Self {
        self.fetch.background_refresh = Some(interval);
        self
    }

    /// Validates and builds the configuration.
    ///
    /// # Errors
    /// A malformed pool id or region, a missing `token_use` (Cognito) or client rule, both
    /// client ids and `any_client`, an empty algorithm list, a zero fetch timeout or body cap,
    /// a background refresh interval of zero or over 365 days, or a plain-HTTP key URL (given
    /// as `jwks_url` or derived from an `http://` issuer) to a non-loopback host without
    /// `allow_insecure_http`.
    pub fn build(self) -> Result<IssuerConfig, ConfigError> {
        let (kind, default_name) = match self.kind {
            BuilderKind::UserPool(pool_id) => {
                let region = parse_user_pool_id(&pool_id)?.to_owned();
                for replica in &self.replica_regions {
                    if !is_region(replica) {
                        return Err(ConfigError::new(
                            crate::ConfigErrorKind::Issuer,
                            format!("replica region {replica:?} is not an AWS region name"),
                        ));
                    }
                }
                let name = pool_id.clone();
                (
                    IssuerKind::UserPool {
                        pool_id,
                        region,
                        replica_regions: self.replica_regions,
                    },
                    name,
                )
            }
            BuilderKind::CognitoIssuer(issuer) => {
                check_issuer_url(&issuer)?;
                reject_replicas(&self.replica_regions)?;
                (IssuerKind::CognitoIssuer(issuer.clone()), issuer)
            }
            BuilderKind::Oidc(issuer) => {
                check_issuer_url(&issuer)?;
                reject_replicas(&self.replica_regions)?;
                (IssuerKind::Oidc(issuer.clone()), issuer)
            }
        };
        let cognito = !matches!(kind, IssuerKind::Oidc(_));
        let clients = if cognito {
            if self.audiences.is_some() {
                return Err(ConfigError::new(
                    crate::ConfigErrorKind::Issuer,
                    "audiences apply to generic OIDC issuers; a Cognito issuer takes client_ids",
                ));
            }
            client_rule(self.client_ids, self.any_client, "client_ids")?
        } else {
            if self.token_use.is_some() {
                return Err(ConfigError::new(
                    crate::ConfigErrorKind::Issuer,
                    "token_use applies to Cognito issuers; a generic OIDC issuer has no token_use rule",
                ));
            }
            let audiences = match (self.audiences, self.client_ids) {
                (Some(_), Some(_)) => {
                    return Err(ConfigError::new(
                        crate::ConfigErrorKind::Issuer,
                        "give a generic OIDC issuer audiences or client_ids, not both",
                    ));
                }
                (audiences, ids) => audiences.or(ids),
            };
            client_rule(audiences, self.any_client, "audiences")?
        };
        if cognito && self.token_use.is_none() {
            return Err(ConfigError::new(
                crate::ConfigErrorKind::Issuer,
                "token_use is required for a Cognito issuer: \"id\", \"access\" or \"any\"",
            ));
        }
        if self.algorithms.is_empty() {
            return Err(ConfigError::new(
                crate::ConfigErrorKind::Issuer,
                "algorithms must list at least one algorithm",
            ));
        }
        if self.fetch.max_body_bytes == 0 || self.fetch.timeout.is_zero() {
            return Err(ConfigError::new(
                crate::ConfigErrorKind::Issuer,
                "JWKS timeout and body cap must be positive",
            ));
        }
        if let Some(interval) = self.fetch.background_refresh
            && (interval.is_zero() || interval > MAX_BACKGROUND_REFRESH)
        {
            return Err(ConfigError::new(
                crate::ConfigErrorKind::Issuer,
                format!(
                    "background_refresh of {interval:?} is out of range: it must be positive and                      at most {} days (leave it unset for no background refresh)",
                    MAX_BACKGROUND_REFRESH.as_secs() / 86_400
                ),
            ));
        }
        let config = IssuerConfig {
            name: Arc::from(self.name.unwrap_or(default_name)),
            kind,
            token_use: self.token_use,
            clients,
            leeway: self.leeway,
            algorithms: self.algorithms,
            keys: self.keys,
            fetch: self.fetch,
        };
        // Every URL keys will be fetched from, whether given as `jwks_url` or derived from
        // the issuer (`{issuer}/.well-known/jwks.json`), passes the same transport rule.
        for (_, location) in config.key_sources() {
            if let Some(url) = &location.url {
                check_key_url(url, config.fetch.allow_insecure_http)?;
            }
        }
        Ok(config)
    }
}

fn client_rule(
    ids: Option<Vec<String>>,
    any: bool,
    field: &str,
) -> Result<ClientRule, ConfigError> {
    match (ids, any) {
        (Some(_), true) => Err(ConfigError::new(
            crate::ConfigErrorKind::Issuer,
            format!("{field} and any_client together are ambiguous: choose one"),
        )),
        (Some(ids), false) if ids.is_empty() || ids.iter().any(String::is_empty) => {
            Err(ConfigError::new(
                crate::ConfigErrorKind::Issuer,
                format!("{field} must list at least one non-empty id"),
            ))
        }
        (Some(ids), false) => Ok(ClientRule::Only(ids)),
        (None, true) => Ok(ClientRule::Any),
        (None, false) => Err(ConfigError::new(
            crate::ConfigErrorKind::Issuer,
            format!("{field} is required (or any_client = true to accept every client explicitly)"),
        )),
    }
}

fn reject_replicas(replicas: &[String]) -> Result<(), ConfigError> {
    if replicas.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::new(
            crate::ConfigErrorKind::Issuer,
            "replica_regions apply to user_pool_id issuers only",
        ))
    }
}

fn check_issuer_url(issuer: &str) -> Result<(), ConfigError> {
    if issuer.starts_with("https://") || issuer.starts_with("http://") {
        Ok(())
    } else {
        Err(ConfigError::new(
            crate::ConfigErrorKind::Issuer,
            format!("issuer {issuer:?} must be an http(s) URL"),
        ))
    }
}

/// Whether a URL's host is a loopback address (`127.0.0.0/8`, `[::1]`, `localhost`).
///
/// The host is read by the same URL parser the HTTP client uses, so no spelling (`\`, `@`,
/// userinfo, percent-encoding) can make the check and the connection see different hosts.
pub(crate) fn is_loopback_url(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    let Some(host) = parsed.host_str() else {
        return false;
    };
    // IPv6 hosts come bracketed: `[::1]`.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn check_key_url(url: &str, allow_insecure_http: bool) -> Result<(), ConfigError> {
    if url.starts_with("https://") {
        return Ok(());
    }
    if url.starts_with("http://") {
        if allow_insecure_http || is_loopback_url(url) {
            return Ok(());
        }
        return Err(ConfigError::new(
            crate::ConfigErrorKind::Issuer,
            format!(
                "key URL {url:?} (jwks_url, or derived from the issuer) is plain HTTP to a \
             non-loopback host: keys over plain HTTP come from whoever is on the path; use \
             HTTPS, or set allow_insecure_http = true for this issuer (CLI: \
             --allow-insecure-http) if the network is yours"
            ),
        ));
    }
    Err(ConfigError::new(
        crate::ConfigErrorKind::Issuer,
        format!("key URL {url:?} (jwks_url, or derived from the issuer) must be an http(s) URL"),
    ))
}

/// Two issuers that cannot be configured together, found by [`check_distinct`].
#[derive(Debug)]
pub(crate) struct Clash {
    /// The index of the later issuer of the two.
    pub(crate) index: usize,
    /// It repeats an earlier issuer's name (else: an `iss` an earlier one accepts).
    pub(crate) same_name: bool,
    pub(crate) message: String,
}

/// Issuers go together when their names differ and no `iss` is accepted by two of them (a
/// token must have exactly one issuer's rules). The one place this is checked: the verifier's
/// builder calls it, and a policy file maps the clash to the issuer's line.
pub(crate) fn check_distinct(issuers: &[IssuerConfig]) -> Result<(), Clash> {
    let mut accepted: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for (index, config) in issuers.iter().enumerate() {
        if issuers[..index]
            .iter()
            .any(|other| other.name() == config.name())
        {
            return Err(Clash {
                index,
                same_name: true,
                message: format!("two issuers are named {:?}", config.name()),
            });
        }
        for iss in config.issuers() {
            if let Some(other) = accepted.insert(iss.clone(), config.name()) {
                return Err(Clash {
                    index,
                    same_name: false,
                    message: format!(
                        "issuer {:?} accepts {iss:?}, as issuer {other:?} does",
                        config.name()
                    ),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_ids_are_checked() {
        for good in ["us-east-1_Example1", "us-gov-west-1_abc", "eu-central-2_Z9"] {
            assert!(parse_user_pool_id(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "us-east-1",
            "_abc",
            "us-east-1_",
            "useast1_abc",
            "us-east-1_a-b",
            "US-EAST-1_abc",
            "us-east-x_abc",
        ] {
            assert!(parse_user_pool_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn replica_regions_add_both_issuer_forms() {
        let config = IssuerConfig::user_pool("us-east-1_Abc")
            .replica_regions(["eu-west-1"])
            .any_client()
            .token_use(AcceptedTokenUse::Any)
            .build()
            .expect("valid");
        assert_eq!(config.issuers().len(), 4);
        assert!(config.issuers().contains(
            &"https://issuer-cognito-idp.eu-west-1.amazonaws.com/us-east-1_Abc".to_owned()
        ));
        assert_eq!(config.key_sources().len(), 2);
    }

    #[test]
    fn open_doors_are_configuration_errors() {
        let pool = || IssuerConfig::user_pool("us-east-1_Abc");
        assert!(pool().client_ids(["a"]).build().is_err(), "no token_use");
        assert!(
            pool().token_use(AcceptedTokenUse::Id).build().is_err(),
            "no clients"
        );
        assert!(
            pool()
                .token_use(AcceptedTokenUse::Id)
                .client_ids(["a"])
                .any_client()
                .build()
                .is_err()
        );
        assert!(
            pool()
                .token_use(AcceptedTokenUse::Id)
                .client_ids(Vec::<String>::new())
                .build()
                .is_err()
        );
        assert!(
            pool()
                .token_use(AcceptedTokenUse::Id)
                .client_ids(["a"])
                .algorithms([])
                .build()
                .is_err()
        );
        assert!(
            IssuerConfig::oidc("https://idp.example").build().is_err(),
            "no audiences"
        );
        assert!(
            IssuerConfig::oidc("https://idp.example")
                .audiences(["x"])
                .token_use(AcceptedTokenUse::Id)
                .build()
                .is_err()
        );
    }

    #[test]
    fn fetch_durations_build_at_their_extremes_except_an_unschedulable_background_refresh() {
        let pool = || {
            IssuerConfig::user_pool("us-east-1_Abc")
                .token_use(AcceptedTokenUse::Id)
                .any_client()
        };
        let extreme = FetchSettings {
            min_refresh_interval: Duration::MAX,
            timeout: Duration::MAX,
            backoff_initial: Duration::MAX,
            backoff_max: Duration::MAX,
            ..FetchSettings::default()
        };
        assert!(pool().fetch_settings(extreme).build().is_ok());
        assert!(pool().fetch_timeout(Duration::ZERO).build().is_err());
        for interval in [
            Duration::ZERO,
            MAX_BACKGROUND_REFRESH + Duration::from_secs(1),
        ] {
            let error = pool()
                .background_refresh(interval)
                .build()
                .expect_err("refused");
            assert!(error.message().contains("background_refresh"), "{error}");
        }
        for interval in [Duration::from_millis(1), MAX_BACKGROUND_REFRESH] {
            assert!(pool().background_refresh(interval).build().is_ok());
        }
    }

    #[test]
    fn plain_http_key_urls_only_for_loopback() {
        let pool = || {
            IssuerConfig::user_pool("us-east-1_Abc")
                .token_use(AcceptedTokenUse::Id)
                .any_client()
        };
        assert!(pool().jwks_url("http://127.0.0.1:9/keys").build().is_ok());
        assert!(pool().jwks_url("http://[::1]:9/keys").build().is_ok());
        assert!(pool().jwks_url("http://localhost/keys").build().is_ok());
        assert!(pool().jwks_url("http://keys.example/keys").build().is_err());
        assert!(
            pool()
                .jwks_url("http://127.0.0.1.evil.example/keys")
                .build()
                .is_err()
        );
        assert!(
            pool()
                .jwks_url("http://keys.example/keys")
                .allow_insecure_http(true)
                .build()
                .is_ok()
        );
        assert!(pool().jwks_url("ftp://keys.example/keys").build().is_err());
        // Spellings where a naive split and the HTTP client would see different hosts.
        for tricky in [
            "http://evil.example\\@127.0.0.1/jwks.json",
            "http://127.0.0.1@evil.example/jwks.json",
            "http://127.0.0.1:80@evil.example/jwks.json",
            "http://evil.example#@127.0.0.1/",
            "http://evil.example?@127.0.0.1/",
        ] {
            assert!(pool().jwks_url(tricky).build().is_err(), "{tricky}");
        }
        assert!(
            pool()
                .jwks_url("http://user@127.0.0.1:9/keys")
                .build()
                .is_ok()
        );
    }

    #[test]
    fn key_urls_derived_from_plain_http_issuers_follow_the_same_rule() {
        let oidc = |issuer: &str| IssuerConfig::oidc(issuer).audiences(["a"]);
        let cognito = |issuer: &str| {
            IssuerConfig::cognito_issuer(issuer)
                .token_use(AcceptedTokenUse::Id)
                .any_client()
        };
        for issuer in [
            "http://keycloak:8080/realms/main",
            "http://cognito-local:9229/local_pool",
            "http://127.0.0.1.evil.example/pool",
            "http://evil.example\\@127.0.0.1/pool",
        ] {
            for built in [oidc(issuer).build(), cognito(issuer).build()] {
                let error = built.expect_err(issuer).to_string();
                assert!(error.contains("allow_insecure_http"), "{error}");
                assert!(error.contains("/.well-known/jwks.json"), "{error}");
            }
            assert!(oidc(issuer).allow_insecure_http(true).build().is_ok());
            assert!(cognito(issuer).allow_insecure_http(true).build().is_ok());
            // Keys from elsewhere: nothing is derived from the issuer.
            assert!(oidc(issuer).jwks_file("keys.json").build().is_ok());
            assert!(
                cognito(issuer)
                    .jwks_url("https://keys.example/jwks.json")
                    .build()
                    .is_ok()
            );
        }
        for issuer in [
            "http://127.0.0.1:9229/pool",
            "http://localhost/x",
            "https://idp.example",
        ] {
            assert!(oidc(issuer).build().is_ok(), "{issuer}");
            assert!(cognito(issuer).build().is_ok(), "{issuer}");
        }
    }

    #[test]
    fn issuers_sharing_a_name_or_an_iss_are_refused_in_code_too() {
        let pool = |name: &str| {
            IssuerConfig::user_pool("us-east-1_Abc")
                .name(name)
                .any_client()
                .token_use(AcceptedTokenUse::Any)
                .jwks_json(r#"{"keys":[]}"#)
                .build()
                .expect("valid")
        };
        let clash = check_distinct(&[pool("a"), pool("b")]).expect_err("same iss");
        assert_eq!((clash.index, clash.same_name), (1, false));
        assert!(
            clash.message.contains("as issuer \"a\" does"),
            "{}",
            clash.message
        );
        let error = crate::Verifier::builder()
            .issuers([pool("a"), pool("b")])
            .build()
            .expect_err("refused");
        assert_eq!(error.kind(), crate::ConfigErrorKind::Issuer);
        assert!(error.message().contains("as issuer \"a\" does"), "{error}");
        let clash = check_distinct(&[pool("a"), pool("a")]).expect_err("same name");
        assert_eq!((clash.index, clash.same_name), (1, true));
    }
}
