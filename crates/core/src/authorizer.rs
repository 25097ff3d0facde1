//! The whole authorization decision as one call: token source → verifier → route policy.
//!
//! [`Authorizer::authorize`] takes the method, path and headers of a request and answers
//! [`Decision::Allow`] (with the verified token, if any) or [`Decision::Deny`] with a
//! [`Denial`] that knows its code, route, policy, a reason for logs, and its HTTP response.
//! Adapters call it once per request and never look inside the verifier.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::{HeaderMap, Method};

use crate::claims::VerifiedToken;
use crate::clock::{Clock, SharedClock};
use crate::config::IssuerConfig;
use crate::error::{ConfigError, ErrorKind};
use crate::policy::paths::RequestTarget;
use crate::policy::routes::{RouteMatch, RouteTable, RouteTableBuilder};
use crate::policy::{Evaluation, Policy, PolicyError, PolicySet};
use crate::policy_file::{PolicyFile, PolicyFileError};
use crate::response::{DenialResponse, validate_realm};
use crate::token_source::{HeaderLookup, TokenSource};
use crate::verify::Verifier;

/// Verifier + route table + token source: decides requests. Cheap to clone (one `Arc`).
///
/// # Example
///
/// ```
/// use cognito_authz_core::{
///     AcceptedTokenUse, Authorizer, Decision, ErrorKind, IssuerConfig, Policy, Verifier,
/// };
/// use http::{HeaderMap, Method};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let verifier = Verifier::builder()
///     .issuer(
///         IssuerConfig::user_pool("us-east-1_Example1")
///             .client_ids(["1example23456789"])
///             .token_use(AcceptedTokenUse::Access)
///             .jwks_json(r#"{"keys":[]}"#)
///             .build()?,
///     )
///     .build()?;
/// let authorizer = Authorizer::builder()
///     .verifier(verifier)
///     .route("/health", Policy::public())
///     .route("/admin/{*rest}", "group:admin".parse()?)
///     .build()?;
///
/// let health = authorizer.authorize(&Method::GET, "/health", &HeaderMap::new()).await;
/// assert!(health.is_allowed());
///
/// let Decision::Deny(denial) =
///     authorizer.authorize(&Method::GET, "/admin/users", &HeaderMap::new()).await
/// else {
///     panic!("no token must be denied")
/// };
/// assert_eq!(denial.kind(), ErrorKind::MissingToken);
/// assert_eq!(denial.route(), Some("/admin/{*rest}"));
/// let response = denial.response();
/// assert_eq!(response.status(), 401);
/// assert_eq!(response.www_authenticate().unwrap(), "Bearer");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Authorizer {
    inner: Arc<Inner>,
}

struct Inner {
    verifier: Verifier,
    routes: RouteTable,
    token_source: TokenSource,
    realm: Option<Arc<str>>,
    /// With an ALB in front: identities come from its `x-amzn-oidc-data` tokens.
    #[cfg(feature = "alb")]
    alb: Option<crate::alb::AlbVerifier>,
    /// The Cedar set-up deciding `cedar` atoms, with the routes' resource loaders.
    #[cfg(feature = "cedar")]
    cedar: Option<crate::cedar::Cedar>,
}

/// The outcome of [`Authorizer::authorize`].
#[derive(Debug, Clone)]
pub enum Decision {
    /// Let the request through. `token` is the verified token: always present for non-public
    /// policies; on public routes, present when a valid token was sent (invalid ones are
    /// ignored).
    Allow {
        /// The verified token, if any.
        token: Option<Arc<VerifiedToken>>,
    },
    /// Refuse the request with [`Denial::response`].
    Deny(Denial),
}

impl Decision {
    /// Whether the request may proceed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }

    /// The verified token of an allowed request, if any.
    pub fn token(&self) -> Option<&Arc<VerifiedToken>> {
        match self {
            Decision::Allow { token } => token.as_ref(),
            Decision::Deny(_) => None,
        }
    }

    /// The denial, if denied.
    pub fn denial(&self) -> Option<&Denial> {
        match self {
            Decision::Allow { .. } => None,
            Decision::Deny(denial) => Some(denial),
        }
    }
}

/// Why a request was refused: the code, where (route and policy), a reason for logs, and the
/// scopes for an `insufficient_scope` challenge. Never holds token content.
#[derive(Debug, Clone)]
pub struct Denial {
    kind: ErrorKind,
    route: Option<Arc<str>>,
    policy: Arc<str>,
    reason: String,
    scopes: Arc<[String]>,
    realm: Option<Arc<str>>,
}

impl Denial {
    /// The error kind (`missing_token`, `expired`, `insufficient_scope`, `forbidden`, …).
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The stable code string of the kind.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The HTTP status (400, 401, 403 or 503).
    pub fn status(&self) -> u16 {
        self.kind.status()
    }

    /// The matched route pattern, or `None` when the `unmatched` default applied.
    pub fn route(&self) -> Option<&str> {
        self.route.as_deref()
    }

    /// The policy that applied, in canonical text.
    pub fn policy(&self) -> &str {
        &self.policy
    }

    /// What failed, for logs and the CLI (which check, or which policy atoms).
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The scopes of an `insufficient_scope` denial (empty otherwise).
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The HTTP answer, identical in every adapter (DESIGN.md §7).
    pub fn response(&self) -> DenialResponse {
        DenialResponse::new(self.kind, &self.scopes, self.realm.as_deref())
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} on route {} (policy `{}`): {}",
            self.kind.code(),
            self.route.as_deref().unwrap_or("<unmatched>"),
            self.policy,
            self.reason
        )
    }
}

/// Settings applied when an authorizer is loaded from a policy file (the CLI's `--now` and
/// `--jwks-file`, caches, realm).
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct AuthorizerOptions {
    clock: Option<SharedClock>,
    verified_token_cache: Option<usize>,
    verified_token_cache_bytes: Option<usize>,
    max_token_bytes: Option<usize>,
    jwks_file: Option<PathBuf>,
    realm: Option<String>,
    issuers: Option<Vec<IssuerConfig>>,
    revocation: Option<crate::revocation::RevocationStore>,
    #[cfg(feature = "cedar")]
    resource_loaders: crate::cedar::hooks::Loaders,
}

impl AuthorizerOptions {
    /// Default options: system clock, no verified-token cache, keys where the file says.
    pub fn new() -> Self {
        Self::default()
    }

    /// The clock for `exp`/`nbf`/`iat` (e.g. `FixedClock` for `--now`).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(SharedClock::new(clock));
        self
    }

    /// Keep up to `capacity` verified tokens (see [`VerifierBuilder::verified_token_cache`](crate::VerifierBuilder::verified_token_cache)).
    pub fn verified_token_cache(mut self, capacity: usize) -> Self {
        self.verified_token_cache = Some(capacity);
        self
    }

    /// Bound the verified-token cache to this many heap bytes (see [`VerifierBuilder::verified_token_cache_bytes`](crate::VerifierBuilder::verified_token_cache_bytes)).
    pub fn verified_token_cache_bytes(mut self, bytes: usize) -> Self {
        self.verified_token_cache_bytes = Some(bytes);
        self
    }

    /// Longest token accepted (default 16 KiB).
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_token_bytes = Some(bytes);
        self
    }

    /// Read every issuer's keys from this static file instead (no network).
    pub fn jwks_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.jwks_file = Some(path.into());
        self
    }

    /// The `realm` of every challenge (default: none).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// Use these issuers instead of the file's `[[issuer]]` tables (whose key files are then
    /// not read), keeping the file's routes, policies and token source: e.g. a local test
    /// issuer in development, or a pool chosen at deploy time. `issuer:` atoms match the
    /// replacements' names.
    pub fn issuers(mut self, issuers: impl IntoIterator<Item = IssuerConfig>) -> Self {
        self.issuers = Some(issuers.into_iter().collect());
        self
    }

    /// Use this revocation store instead of the one the file's `[revocation]` section describes
    /// (e.g. one store shared by several authorizers of a process).
    pub fn revocation_store(mut self, store: crate::revocation::RevocationStore) -> Self {
        self.revocation = Some(store);
        self
    }

    /// The Cedar resource loader of the file's route `pattern` (whose policy uses `cedar`).
    #[cfg(feature = "cedar")]
    pub fn resource_loader(
        mut self,
        pattern: impl Into<String>,
        loader: impl crate::cedar::ResourceLoader,
    ) -> Self {
        self.resource_loaders
            .0
            .push((pattern.into(), std::sync::Arc::new(loader)));
        self
    }
}

/// Builds an [`Authorizer`] in code; see [`Authorizer`] for an example.
#[derive(Debug)]
#[must_use]
pub struct AuthorizerBuilder {
    verifier: Option<Verifier>,
    routes: RouteTableBuilder,
    table: Option<RouteTable>,
    token_source: TokenSource,
    realm: Option<String>,
    #[cfg(feature = "cedar")]
    cedar: Option<crate::cedar::Cedar>,
    #[cfg(feature = "cedar")]
    resource_loaders: crate::cedar::hooks::Loaders,
}

impl Default for AuthorizerBuilder {
    fn default() -> Self {
        Self {
            verifier: None,
            routes: RouteTable::builder(),
            table: None,
            token_source: TokenSource::default(),
            realm: None,
            #[cfg(feature = "cedar")]
            cedar: None,
            #[cfg(feature = "cedar")]
            resource_loaders: crate::cedar::hooks::Loaders::default(),
        }
    }
}

impl AuthorizerBuilder {
    /// The verifier (required).
    pub fn verifier(mut self, verifier: Verifier) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// Where tokens are read from (default: the `Authorization` header).
    pub fn token_source(mut self, source: TokenSource) -> Self {
        self.token_source = source;
        self
    }

    /// The `realm` of every challenge (default: none).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// Defines a named policy (`policy:NAME`).
    pub fn policy(mut self, name: impl Into<String>, policy: Policy) -> Self {
        self.routes = self.routes.policy(name, policy);
        self
    }

    /// A route for every method.
    pub fn route(mut self, pattern: impl Into<String>, policy: Policy) -> Self {
        self.routes = self.routes.route(pattern, policy);
        self
    }

    /// A route for the listed methods.
    pub fn route_methods(
        mut self,
        methods: impl IntoIterator<Item = Method>,
        pattern: impl Into<String>,
        policy: Policy,
    ) -> Self {
        self.routes = self.routes.route_methods(methods, pattern, policy);
        self
    }

    /// The policy for requests no route matches (default `deny`: 403 `forbidden`).
    pub fn unmatched(mut self, policy: Policy) -> Self {
        self.routes = self.routes.unmatched(policy);
        self
    }

    /// The Cedar set-up that decides the routes' `cedar` atoms.
    #[cfg(feature = "cedar")]
    pub fn cedar(mut self, cedar: crate::cedar::Cedar) -> Self {
        self.cedar = Some(cedar);
        self
    }

    /// The Cedar resource loader of route `pattern` (whose policy uses `cedar`): it supplies
    /// the request's resource entity in every adapter.
    #[cfg(feature = "cedar")]
    pub fn resource_loader(
        mut self,
        pattern: impl Into<String>,
        loader: impl crate::cedar::ResourceLoader,
    ) -> Self {
        self.resource_loaders
            .0
            .push((pattern.into(), Arc::new(loader)));
        self
    }

    /// Uses a route table built elsewhere (replaces `policy`/`route`/`unmatched` calls).
    pub fn route_table(mut self, table: RouteTable) -> Self {
        self.table = Some(table);
        self
    }

    /// Validates and builds.
    ///
    /// # Errors
    /// No verifier, an invalid realm, or a route table error.
    pub fn build(self) -> Result<Authorizer, ConfigError> {
        let verifier = self
            .verifier
            .ok_or_else(|| ConfigError::new("an authorizer needs a verifier"))?;
        if let Some(realm) = &self.realm {
            validate_realm(realm)?;
        }
        let routes = match self.table {
            Some(table) => table,
            None => self
                .routes
                .issuers(verifier.issuers().map(|issuer| issuer.name().to_owned()))
                .build()
                .map_err(|error| ConfigError::new(error.to_string()))?,
        };
        check_issuer_names(&verifier, &routes).map_err(ConfigError::new)?;
        #[cfg(feature = "cedar")]
        let cedar = crate::cedar::hooks::attach(self.cedar, self.resource_loaders, &routes)
            .map_err(ConfigError::new)?;
        #[cfg(feature = "cedar")]
        let configured = cedar.is_some();
        #[cfg(not(feature = "cedar"))]
        let configured = false;
        check_cedar_routes(&routes, configured).map_err(ConfigError::new)?;
        let authorizer = Authorizer::from_parts(verifier, routes, self.token_source, self.realm);
        #[cfg(feature = "cedar")]
        let authorizer = authorizer.with_cedar(cedar);
        Ok(authorizer)
    }
}

impl Authorizer {
    /// Starts building an authorizer in code.
    pub fn builder() -> AuthorizerBuilder {
        AuthorizerBuilder::default()
    }

    fn from_parts(
        verifier: Verifier,
        routes: RouteTable,
        token_source: TokenSource,
        realm: Option<String>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                verifier,
                routes,
                token_source,
                realm: realm.map(Arc::from),
                #[cfg(feature = "alb")]
                alb: None,
                #[cfg(feature = "cedar")]
                cedar: None,
            }),
        }
    }

    /// Sets the Cedar set-up of a freshly built authorizer.
    #[cfg(feature = "cedar")]
    fn with_cedar(mut self, cedar: Option<crate::cedar::Cedar>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.cedar = cedar;
        }
        self
    }

    /// The Cedar set-up, if the authorizer has one.
    #[cfg(feature = "cedar")]
    pub fn cedar(&self) -> Option<&crate::cedar::Cedar> {
        self.inner.cedar.as_ref()
    }

    /// Every request gets `policy` (per-route layers), tokens from the `Authorization` header.
    ///
    /// # Errors
    /// The policy has `policy:` references or does not compile.
    pub fn single(verifier: Verifier, policy: &Policy) -> Result<Self, ConfigError> {
        let compiled = PolicySet::new()
            .with_issuers(verifier.issuers().map(|issuer| issuer.name().to_owned()))
            .and_then(|set| set.compile(policy))
            .map_err(|error| ConfigError::new(error.to_string()))?;
        Ok(Self::from_parts(
            verifier,
            RouteTable::single(compiled),
            TokenSource::default(),
            None,
        ))
    }

    /// An authorizer with the same verifier, token source and settings that applies `policy`
    /// to every request, resolving `policy:` references from this one's named policies.
    ///
    /// # Errors
    /// The policy does not compile against the named policies.
    pub fn with_policy(&self, policy: &Policy) -> Result<Self, PolicyError> {
        let inner = &*self.inner;
        let compiled = inner.routes.policies().compile(policy)?;
        Ok(Self {
            inner: Arc::new(Inner {
                verifier: inner.verifier.clone(),
                routes: RouteTable::single(compiled),
                token_source: inner.token_source.clone(),
                realm: inner.realm.clone(),
                #[cfg(feature = "alb")]
                alb: inner.alb.clone(),
                #[cfg(feature = "cedar")]
                cedar: inner.cedar.clone(),
            }),
        })
    }

    /// Loads a policy file with default options.
    ///
    /// # Errors
    /// Any problem in the file or its key files, with file, line and column.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, PolicyFileError> {
        Self::from_file_with(path, AuthorizerOptions::default())
    }

    /// Loads a policy file with options (clock, cache, key-file override, realm).
    ///
    /// # Errors
    /// As [`Authorizer::from_file`].
    pub fn from_file_with(
        path: impl AsRef<Path>,
        options: AuthorizerOptions,
    ) -> Result<Self, PolicyFileError> {
        Self::from_policy_file(PolicyFile::load(path)?, options)
    }

    /// Loads policy-file text; relative `jwks_file` paths resolve against `base_dir`.
    ///
    /// # Errors
    /// As [`Authorizer::from_file`], with `<string>` as the file name.
    pub fn from_toml_str(text: &str, base_dir: impl AsRef<Path>) -> Result<Self, PolicyFileError> {
        Self::from_toml_str_with(text, base_dir, AuthorizerOptions::default())
    }

    /// Loads policy-file text with options.
    ///
    /// # Errors
    /// As [`Authorizer::from_toml_str`].
    pub fn from_toml_str_with(
        text: &str,
        base_dir: impl AsRef<Path>,
        options: AuthorizerOptions,
    ) -> Result<Self, PolicyFileError> {
        Self::from_policy_file(PolicyFile::parse(text, base_dir, "<string>")?, options)
    }

    /// Builds from a parsed policy file: applies the options, checks key files (reporting
    /// problems at the issuer's line), and builds the verifier. Nothing is fetched.
    ///
    /// # Errors
    /// An unreadable or invalid key file, a bad realm, or a verifier that cannot be built.
    pub fn from_policy_file(
        file: PolicyFile,
        options: AuthorizerOptions,
    ) -> Result<Self, PolicyFileError> {
        if options.issuers.is_none() || options.jwks_file.is_some() {
            file.check_key_files(options.jwks_file.as_deref())?;
        }
        if let Some(realm) = &options.realm {
            validate_realm(realm).map_err(|error| file.file_error(error.to_string()))?;
        }
        // Issuer-level problems were reported at their lines above; what the verifier can
        // still refuse (e.g. an HTTP client that cannot be built) concerns the whole file.
        let file_level = file.file_error(String::new());
        let revocation = crate::revocation::from_policy_file(
            &file,
            options.revocation,
            options.clock.clone().unwrap_or_default(),
        )?;
        #[cfg(feature = "cedar")]
        let mut file = file;
        #[cfg(feature = "cedar")]
        let cedar = file.take_cedar();
        let (mut issuers, token_source, routes) = file.into_parts();
        if let Some(replacements) = options.issuers {
            issuers = replacements;
        }
        if let Some(path) = &options.jwks_file {
            for issuer in &mut issuers {
                issuer.set_jwks_file(path.clone());
            }
        }
        let mut builder = Verifier::builder().issuers(issuers);
        if let Some(clock) = options.clock {
            builder = builder.shared_clock(clock);
        }
        if let Some(capacity) = options.verified_token_cache {
            builder = builder.verified_token_cache(capacity);
        }
        if let Some(bytes) = options.verified_token_cache_bytes {
            builder = builder.verified_token_cache_bytes(bytes);
        }
        if let Some(bytes) = options.max_token_bytes {
            builder = builder.max_token_bytes(bytes);
        }
        if let Some(store) = revocation {
            builder = builder.revocation(store);
        }
        let verifier = builder.build().map_err(|error| PolicyFileError {
            message: error.to_string(),
            ..file_level.clone()
        })?;
        // The file's own issuers were checked with positions when it was parsed; this catches
        // `issuer:` atoms that no replacement issuer is named after.
        check_issuer_names(&verifier, &routes).map_err(|message| PolicyFileError {
            message,
            ..file_level.clone()
        })?;
        #[cfg(feature = "cedar")]
        let cedar = crate::cedar::hooks::attach(cedar, options.resource_loaders, &routes).map_err(
            |message| PolicyFileError {
                message,
                ..file_level.clone()
            },
        )?;
        #[cfg(feature = "cedar")]
        let configured = cedar.is_some();
        #[cfg(not(feature = "cedar"))]
        let configured = false;
        check_cedar_routes(&routes, configured).map_err(|message| PolicyFileError {
            message,
            ..file_level
        })?;
        let authorizer = Self::from_parts(verifier, routes, token_source, options.realm);
        #[cfg(feature = "cedar")]
        let authorizer = authorizer.with_cedar(cedar);
        Ok(authorizer)
    }

    /// The same routes and policies, with identities taken from an Application Load
    /// Balancer's `x-amzn-oidc-data` header and verified by `alb` instead of the token source
    /// and Cognito verifier (a service behind an ALB that authenticates users).
    #[cfg(feature = "alb")]
    #[must_use]
    pub fn with_alb(&self, alb: crate::alb::AlbVerifier) -> Self {
        let inner = &*self.inner;
        Self {
            inner: Arc::new(Inner {
                verifier: inner.verifier.clone(),
                routes: inner.routes.clone(),
                token_source: inner.token_source.clone(),
                realm: inner.realm.clone(),
                alb: Some(alb),
                #[cfg(feature = "cedar")]
                cedar: inner.cedar.clone(),
            }),
        }
    }

    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.inner.verifier
    }

    /// The route table.
    pub fn routes(&self) -> &RouteTable {
        &self.inner.routes
    }

    /// Where tokens are read from.
    pub fn token_source(&self) -> &TokenSource {
        &self.inner.token_source
    }

    /// The configured realm, if any.
    pub fn realm(&self) -> Option<&str> {
        self.inner.realm.as_deref()
    }

    /// Decides a request: route lookup, token extraction, the cookie cross-site check,
    /// verification, policy.
    ///
    /// A cookie token on a state-changing request that another site may have sent (see
    /// [`TokenSource::check_cross_site`]) is refused with `cross_site_request` before the
    /// token is verified; on a public route such a token is not offered to the handler.
    ///
    /// `target` is the request path (a `&str`: the path as sent, routed most specific
    /// first, as tower and axum do) or a [`RequestTarget`] saying how the framework routes.
    /// A path with a `.` or `..` segment (as sent or percent-encoded) is refused with 400
    /// `invalid_request`: clients resolve them before sending, and a file server resolves them
    /// from where it is mounted, which no reading of the path can tell. Every route that guards
    /// the request ([`RouteTable::matches`]: the routes of the path as routed, as sent, decoded
    /// and normalized) must allow it; `deny` refuses before any
    /// token is read, and only when every guarding route is `public` is verification skipped
    /// (a valid token, if sent, is still returned; an invalid one is ignored). On a token in
    /// the verified-token cache nothing is awaited. Every denial is logged at `debug` with its
    /// code and route, never the token.
    pub async fn authorize<'a>(
        &self,
        method: &Method,
        target: impl Into<RequestTarget<'a>>,
        headers: &HeaderMap,
    ) -> Decision {
        self.authorize_with(method, target, headers).await
    }

    /// [`Authorizer::authorize`] over any [`HeaderLookup`], for frameworks with their own
    /// header map (actix-web): only the headers the token source reads are looked at (its
    /// header and cookie; for a cookie token, `Sec-Fetch-Site`, `Origin` and `Referer`).
    pub async fn authorize_with<'a, H: HeaderLookup + ?Sized>(
        &self,
        method: &Method,
        target: impl Into<RequestTarget<'a>>,
        headers: &H,
    ) -> Decision {
        let inner = &*self.inner;
        let target = target.into();
        let guards = inner.routes.matches(method, target);
        if target.has_dot_segments() {
            let reason = "the path has a '.' or '..' segment (clients resolve them before sending)";
            let first = guards.primary();
            return self.deny(
                &first,
                method,
                ErrorKind::InvalidRequest,
                reason.to_owned(),
                None,
            );
        }
        if let Some(denied) = guards.iter().find(|found| found.policy().is_deny()) {
            let reason = "the route denies every request".to_owned();
            return self.deny(&denied, method, ErrorKind::Forbidden, reason, None);
        }
        if guards.iter().all(|found| found.policy().is_public()) {
            // A cookie token that fails the cross-site check is not offered to the handler
            // (the route still answers, as to a request without a token).
            let token = match inner.token_source.extract_raw_checked(method, headers) {
                Ok(raw) => inner.verifier.verify_raw(raw).await.ok(),
                Err(_) => None,
            };
            return Decision::Allow { token };
        }
        #[cfg(feature = "alb")]
        if let Some(alb) = &inner.alb {
            return self.authorize_alb(alb, &guards, method, headers).await;
        }
        let first = guards.primary();
        // The cookie cross-site check runs here, before verification: it is cheaper, and a
        // forged request learns nothing about the token it carries.
        let raw = match inner.token_source.extract_raw_checked(method, headers) {
            Ok(raw) => raw,
            Err(error) => {
                return self.deny(
                    &first,
                    method,
                    error.kind(),
                    error.detail().to_owned(),
                    None,
                );
            }
        };
        let token = match inner.verifier.verify_raw(raw).await {
            Ok(token) => token,
            Err(error) => {
                return self.deny(
                    &first,
                    method,
                    error.kind(),
                    error.detail().to_owned(),
                    None,
                );
            }
        };
        for found in guards.iter() {
            let policy = found.policy();
            #[cfg(feature = "cedar")]
            let (evaluation, cedar) = crate::cedar::hooks::evaluate_guard(
                inner.cedar.as_ref(),
                &found,
                method,
                target,
                &token,
            )
            .await;
            #[cfg(not(feature = "cedar"))]
            let (evaluation, cedar) = (policy.evaluate(&token), None::<(bool, String)>);
            // What failed, with the Cedar decision's account (determining policy ids) when
            // Cedar was asked: for logs and the CLI, never the response.
            let explain = || {
                let allowed = cedar.as_ref().is_some_and(|(allowed, _)| *allowed);
                let mut reason = policy.explain_with_cedar(&token, allowed).to_string();
                if let Some((_, account)) = &cedar {
                    reason.push_str("; ");
                    reason.push_str(account);
                }
                reason
            };
            match evaluation {
                Evaluation::Allow => {}
                Evaluation::InsufficientScope(scopes) => {
                    let reason = explain();
                    return self.deny(
                        &found,
                        method,
                        ErrorKind::InsufficientScope,
                        reason,
                        Some(scopes),
                    );
                }
                Evaluation::Forbidden => {
                    let reason = explain();
                    return self.deny(&found, method, ErrorKind::Forbidden, reason, None);
                }
            }
        }
        Decision::Allow { token: Some(token) }
    }

    /// With an ALB in front: the identity is its `x-amzn-oidc-data` token (exactly one such
    /// header), verified by `alb`, then every guarding route's policy decides as for Cognito
    /// tokens.
    #[cfg(feature = "alb")]
    async fn authorize_alb<H: HeaderLookup + ?Sized>(
        &self,
        alb: &crate::alb::AlbVerifier,
        guards: &crate::policy::routes::RouteMatches<'_>,
        method: &Method,
        headers: &H,
    ) -> Decision {
        let first = guards.primary();
        let token = match crate::alb::identify(alb, headers).await {
            Ok(token) => token,
            Err(error) => {
                let reason = error.detail().to_owned();
                return self.deny(&first, method, error.kind(), reason, None);
            }
        };
        for found in guards.iter() {
            let policy = found.policy();
            match policy.evaluate(&token) {
                Evaluation::Allow => {}
                Evaluation::InsufficientScope(scopes) => {
                    let reason = policy.explain(&token).to_string();
                    let kind = ErrorKind::InsufficientScope;
                    return self.deny(&found, method, kind, reason, Some(scopes));
                }
                Evaluation::Forbidden => {
                    let reason = policy.explain(&token).to_string();
                    return self.deny(&found, method, ErrorKind::Forbidden, reason, None);
                }
            }
        }
        Decision::Allow { token: Some(token) }
    }

    fn deny(
        &self,
        found: &RouteMatch<'_>,
        method: &Method,
        kind: ErrorKind,
        reason: String,
        scopes: Option<Arc<[String]>>,
    ) -> Decision {
        let route = found
            .route()
            .map(|route| Arc::clone(route.shared_pattern()));
        tracing::debug!(
            code = kind.code(),
            route = route.as_deref().unwrap_or("<unmatched>"),
            method = %method,
            policy = found.policy().text(),
            reason = %reason,
            "request denied"
        );
        Decision::Deny(Denial {
            kind,
            route,
            policy: found.policy().shared_text(),
            reason,
            scopes: scopes.unwrap_or_else(|| Arc::from(Vec::new())),
            realm: self.inner.realm.clone(),
        })
    }
}

/// A `cedar` atom needs a Cedar set-up (and the `cedar` feature): without one it could never
/// hold, so the route would deny everyone behind a policy that reads as if it decided.
fn check_cedar_routes(routes: &RouteTable, configured: bool) -> Result<(), String> {
    if configured {
        return Ok(());
    }
    let needing = routes
        .routes()
        .iter()
        .find(|route| route.policy().uses_cedar())
        .map(|route| format!("route {:?}", route.pattern()))
        .or_else(|| {
            routes
                .unmatched()
                .uses_cedar()
                .then(|| "defaults.unmatched".to_owned())
        });
    match needing {
        None => Ok(()),
        Some(what) if cfg!(feature = "cedar") => Err(format!(
            "{what} uses `cedar` but no Cedar set-up is configured (a [cedar] section, or AuthorizerBuilder::cedar)"
        )),
        Some(what) => Err(format!(
            "{what} uses `cedar`, which needs cognito-authz built with the `cedar` feature"
        )),
    }
}

/// Every `issuer:` atom of `routes` names one of `verifier`'s issuers.
fn check_issuer_names(verifier: &Verifier, routes: &RouteTable) -> Result<(), String> {
    let configured: Vec<&str> = verifier.issuers().map(IssuerConfig::name).collect();
    let policies = routes
        .routes()
        .iter()
        .map(|route| route.policy())
        .chain([routes.unmatched()]);
    for policy in policies {
        if let Some(name) = policy
            .issuer_names()
            .find(|name| !configured.contains(name))
        {
            return Err(PolicyError::UnknownIssuer {
                name: name.to_owned(),
                configured: configured.join(", "),
            }
            .to_string());
        }
    }
    Ok(())
}

impl fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorizer")
            .field("verifier", &self.inner.verifier)
            .field("routes", &self.inner.routes)
            .field("token_source", &self.inner.token_source)
            .field("realm", &self.inner.realm)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::FutureExt as _;
    use http::HeaderValue;
    use serde_json::json;

    use super::*;
    use crate::FixedClock;
    use crate::test_tokens::{NOW, issuer};

    const POLICY: &str = r#"
[[issuer]]
name = "main"
user_pool_id = "us-east-1_Example1"
client_ids = ["1example23456789"]
token_use = "any"

[token]
cookie = "id_token"

[defaults]
unmatched = "authenticated"

[policies]
admin = "group:admin"
reader = "scope:api/read or policy:admin"

[[route]]
path = "/health"
require = "public"

[[route]]
path = "/reports/{id}"
methods = ["GET"]
require = "policy:reader"

[[route]]
path = "/admin/{*rest}"
require = "policy:admin"

[[route]]
path = "/admin/public"
methods = ["GET"]
require = "public"

[[route]]
path = "/id-only"
require = "token_use:id and claim:email"

[[route]]
path = "/scoped"
require = "scope:api/write and scope:api/read"

[[route]]
path = "/tenant"
require = 'claim:custom:tenant=acme and not group:banned'
"#;

    fn authorizer(options: AuthorizerOptions) -> Authorizer {
        Authorizer::from_toml_str_with(
            POLICY,
            ".",
            options
                .jwks_file(issuer().jwks_path())
                .clock(FixedClock(Duration::from_secs(NOW))),
        )
        .unwrap_or_else(|error| panic!("{error}"))
    }

    /// What a case expects: allowed (with or without a token), or denied with code, status,
    /// route, challenge.
    #[derive(Debug)]
    enum Expect {
        Allow {
            with_token: bool,
        },
        Deny {
            code: &'static str,
            route: Option<&'static str>,
            challenge: Option<&'static str>,
        },
    }

    fn allow(with_token: bool) -> Expect {
        Expect::Allow { with_token }
    }

    fn deny(code: &'static str, route: Option<&'static str>, challenge: &'static str) -> Expect {
        Expect::Deny {
            code,
            route,
            challenge: Some(challenge),
        }
    }

    fn bearer(token: &str) -> (&'static str, String) {
        ("authorization", format!("Bearer {token}"))
    }

    fn cookie(token: &str) -> (&'static str, String) {
        ("cookie", format!("theme=dark; id_token={token}"))
    }

    /// Refused as a cross-site request with a cookie token: no challenge.
    fn cross_site(route: Option<&'static str>) -> Expect {
        Expect::Deny {
            code: "cross_site_request",
            route,
            challenge: None,
        }
    }

    /// Records every event's fields as `name=value` text.
    struct Recorder(std::sync::Mutex<Vec<String>>);

    impl tracing::Subscriber for Recorder {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            struct Fields(String);
            impl tracing::field::Visit for Fields {
                fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
                    self.0.push_str(&format!("{}={value:?} ", field.name()));
                }
            }
            let mut fields = Fields(format!("{} ", event.metadata().level()));
            event.record(&mut fields);
            if let Ok(mut events) = self.0.lock() {
                events.push(fields.0);
            }
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    #[test]
    fn denials_are_logged_at_debug_with_code_and_route_but_never_the_token() {
        let authorizer = authorizer(AuthorizerOptions::new());
        let expired = issuer().access_token("", &[], json!({"exp": NOW - 1}));
        let user = issuer().access_token("openid", &[], json!({}));
        let recorder = Arc::new(Recorder(std::sync::Mutex::new(Vec::new())));
        tracing::subscriber::with_default(Arc::clone(&recorder), || {
            // Callsite interest is global: another test's event may have cached `never` while
            // no subscriber was listening. Recompute it with this one in place.
            tracing::callsite::rebuild_interest_cache();
            for token in [&expired, &user] {
                let mut headers = HeaderMap::new();
                headers.insert(
                    "authorization",
                    HeaderValue::from_str(&format!("Bearer {token}")).expect("value"),
                );
                let decision = authorizer
                    .authorize(&Method::GET, "/reports/9", &headers)
                    .now_or_never()
                    .expect("ready");
                assert!(!decision.is_allowed());
            }
        });
        let events = recorder.0.lock().expect("events").clone();
        let denials: Vec<&String> = events
            .iter()
            .filter(|e| e.contains("request denied"))
            .collect();
        assert_eq!(denials.len(), 2, "{events:?}");
        assert!(denials[0].starts_with("DEBUG "), "{}", denials[0]);
        assert!(denials[0].contains("code=\"expired\""), "{}", denials[0]);
        assert!(
            denials[1].contains("code=\"insufficient_scope\""),
            "{}",
            denials[1]
        );
        for event in &events {
            assert!(event.contains("route=\"/reports/{id}\"") || !event.contains("request denied"));
            assert!(
                !event.contains(&expired) && !event.contains(&user),
                "token in {event}"
            );
            assert!(!event.contains("eyJ"), "token content in {event}");
        }
    }

    #[test]
    fn cross_site_refusals_are_logged_at_debug_with_the_route_and_why() {
        let authorizer = authorizer(AuthorizerOptions::new());
        let user = issuer().access_token("openid", &["admin"], json!({}));
        let recorder = Arc::new(Recorder(std::sync::Mutex::new(Vec::new())));
        tracing::subscriber::with_default(Arc::clone(&recorder), || {
            // Callsite interest is global: another test's event may have cached `never` while
            // no subscriber was listening. Recompute it with this one in place.
            tracing::callsite::rebuild_interest_cache();
            let mut headers = HeaderMap::new();
            let cookie = HeaderValue::from_str(&format!("id_token={user}")).expect("value");
            headers.insert("cookie", cookie);
            headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
            let decision = authorizer
                .authorize(&Method::POST, "/admin/users", &headers)
                .now_or_never()
                .expect("ready");
            assert_eq!(
                decision.denial().map(Denial::code),
                Some("cross_site_request")
            );
        });
        let events = recorder.0.lock().expect("events").clone();
        let denial = events
            .iter()
            .find(|event| event.contains("request denied"))
            .unwrap_or_else(|| panic!("no denial event in {events:?}"));
        assert!(denial.starts_with("DEBUG "), "{denial}");
        assert!(denial.contains("code=\"cross_site_request\""), "{denial}");
        assert!(denial.contains("route=\"/admin/{*rest}\""), "{denial}");
        assert!(denial.contains("method=POST"), "{denial}");
        assert!(denial.contains("Sec-Fetch-Site: cross-site"), "{denial}");
        for event in &events {
            assert!(!event.contains(&user) && !event.contains("eyJ"), "{event}");
        }
    }

    #[test]
    fn authorize_with_any_header_lookup_decides_like_authorize() {
        /// A header store that is not an `http::HeaderMap` (as actix-web's is not).
        struct Pairs(Vec<(&'static str, String)>);
        impl HeaderLookup for Pairs {
            fn values<'a>(&'a self, name: &http::HeaderName) -> impl Iterator<Item = &'a [u8]> {
                let name = name.as_str();
                self.0
                    .iter()
                    .filter(move |(candidate, _)| *candidate == name)
                    .map(|(_, value)| value.as_bytes())
            }
        }
        let authorizer = authorizer(AuthorizerOptions::new());
        let keys = issuer();
        let user = keys.access_token("openid", &["staff"], json!({}));
        let admin = keys.access_token("openid", &["admin"], json!({}));
        let cases = [
            ("GET", "/admin/users", vec![bearer(&admin)]),
            ("GET", "/admin/users", vec![bearer(&user)]),
            ("GET", "/reports/1", vec![bearer(&user)]),
            ("GET", "/health", vec![bearer(&user)]),
            ("GET", "/me", vec![]),
            ("GET", "/me", vec![bearer(&user), bearer(&user)]),
            ("GET", "/me", vec![("cookie", format!("id_token={user}"))]),
            ("POST", "/me", vec![("cookie", format!("id_token={user}"))]),
            (
                "POST",
                "/me",
                vec![
                    ("cookie", format!("id_token={user}")),
                    ("sec-fetch-site", "same-origin".to_owned()),
                ],
            ),
            (
                "OPTIONS",
                "/admin/users",
                vec![("access-control-request-method", "GET".to_owned())],
            ),
        ];
        for (method, path, pairs) in cases {
            let method = Method::from_bytes(method.as_bytes()).expect("method");
            let mut headers = HeaderMap::new();
            for (name, value) in &pairs {
                headers.append(*name, HeaderValue::from_str(value).expect("header value"));
            }
            let expected = authorizer
                .authorize(&method, path, &headers)
                .now_or_never()
                .expect("ready");
            let got = authorizer
                .authorize_with(&method, path, &Pairs(pairs))
                .now_or_never()
                .expect("ready");
            assert_eq!(
                got.denial().map(Denial::code),
                expected.denial().map(Denial::code),
                "{method} {path}"
            );
            assert_eq!(
                got.token().map(|token| token.sub()),
                expected.token().map(|token| token.sub()),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn authorizers_and_their_futures_cross_threads() {
        fn send_sync<T: Send + Sync>(_: &T) {}
        fn send<T: Send>(_: &T) {}
        let authorizer = authorizer(AuthorizerOptions::new());
        send_sync(&authorizer);
        let headers = HeaderMap::new();
        let future = authorizer.authorize(&Method::GET, "/", &headers);
        send(&future);
        let decision = future.now_or_never().expect("ready");
        send_sync(&decision);
    }

    #[test]
    fn requests_are_decided_per_the_contract() {
        let keys = issuer();
        let user = keys.access_token("openid", &["staff"], json!({}));
        let reader = keys.access_token("openid api/read", &["staff"], json!({}));
        let writer = keys.access_token("api/write", &[], json!({}));
        let admin = keys.access_token("openid", &["admin"], json!({}));
        let id = keys.id_token(&["staff"], json!({}));
        let tenant = keys.access_token("", &[], json!({"custom:tenant": "acme"}));
        let banned = keys.access_token("", &["banned"], json!({"custom:tenant": "acme"}));
        let expired = keys.access_token("", &[], json!({"exp": NOW - 1}));
        let foreign = keys.access_token(
            "",
            &[],
            json!({"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"}),
        );
        let wrong_client = keys.access_token("", &[], json!({"client_id": "someone-else"}));
        let tampered = {
            let mut parts: Vec<String> = user.split('.').map(str::to_owned).collect();
            parts[1] = base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                r#"{"iss":"x"}"#,
            );
            let forged = keys.access_token("openid", &["admin"], json!({}));
            let forged_payload = forged.split('.').nth(1).unwrap_or_default().to_owned();
            format!("{}.{}.{}", parts[0], forged_payload, parts[2])
        };
        let invalid = |description: &'static str| -> &'static str {
            match description {
                "malformed token" => {
                    r#"Bearer error="invalid_token", error_description="malformed token""#
                }
                "token expired" => {
                    r#"Bearer error="invalid_token", error_description="token expired""#
                }
                "invalid signature" => {
                    r#"Bearer error="invalid_token", error_description="invalid signature""#
                }
                "untrusted issuer" => {
                    r#"Bearer error="invalid_token", error_description="untrusted issuer""#
                }
                "wrong client" => {
                    r#"Bearer error="invalid_token", error_description="wrong client""#
                }
                _ => "",
            }
        };
        let forbidden = r#"Bearer error="insufficient_scope""#;
        // (method, path, headers, expected)
        type Case<'a> = (&'a str, &'a str, Vec<(&'a str, String)>, Expect);
        let cases: Vec<Case<'_>> = vec![
            // public routes: no token, valid, invalid, ambiguous
            ("GET", "/health", vec![], allow(false)),
            ("GET", "/health", vec![bearer(&user)], allow(true)),
            ("GET", "/health", vec![bearer("garbage")], allow(false)),
            ("GET", "/health", vec![bearer(&expired)], allow(false)),
            (
                "GET",
                "/health",
                vec![bearer(&user), bearer(&user)],
                allow(false),
            ),
            ("GET", "/admin/public", vec![], allow(false)),
            // missing vs invalid tokens
            ("GET", "/me", vec![], deny("missing_token", None, "Bearer")),
            ("GET", "/me", vec![bearer(&user)], allow(true)),
            (
                "GET",
                "/me",
                vec![("authorization", user.clone())],
                allow(true),
            ),
            (
                "GET",
                "/me",
                vec![("cookie", format!("id_token={user}"))],
                allow(true),
            ),
            (
                "GET",
                "/me",
                vec![("authorization", "Basic dXNlcjpwdw==".to_owned())],
                deny("missing_token", None, "Bearer"),
            ),
            (
                "GET",
                "/me",
                vec![bearer("garbage")],
                deny("malformed_token", None, invalid("malformed token")),
            ),
            (
                "GET",
                "/me",
                vec![bearer(&expired)],
                deny("expired", None, invalid("token expired")),
            ),
            (
                "GET",
                "/me",
                vec![bearer(&tampered)],
                deny("invalid_signature", None, invalid("invalid signature")),
            ),
            (
                "GET",
                "/me",
                vec![bearer(&foreign)],
                deny("invalid_issuer", None, invalid("untrusted issuer")),
            ),
            (
                "GET",
                "/me",
                vec![bearer(&wrong_client)],
                deny("invalid_client", None, invalid("wrong client")),
            ),
            // ambiguous requests
            (
                "GET",
                "/me",
                vec![bearer(&user), bearer(&user)],
                deny("invalid_request", None, r#"Bearer error="invalid_request""#),
            ),
            (
                "GET",
                "/me",
                vec![bearer(&user), ("cookie", format!("id_token={user}"))],
                deny("invalid_request", None, r#"Bearer error="invalid_request""#),
            ),
            // insufficient_scope vs forbidden
            (
                "GET",
                "/reports/7",
                vec![bearer(&user)],
                deny(
                    "insufficient_scope",
                    Some("/reports/{id}"),
                    r#"Bearer error="insufficient_scope", scope="api/read""#,
                ),
            ),
            ("GET", "/reports/7", vec![bearer(&reader)], allow(true)),
            ("GET", "/reports/7", vec![bearer(&admin)], allow(true)),
            (
                "GET",
                "/reports/7",
                vec![bearer(&id)],
                deny(
                    "insufficient_scope",
                    Some("/reports/{id}"),
                    r#"Bearer error="insufficient_scope", scope="api/read""#,
                ),
            ),
            (
                "GET",
                "/reports/7",
                vec![],
                deny("missing_token", Some("/reports/{id}"), "Bearer"),
            ),
            // method filtering: POST has no /reports route → unmatched (authenticated)
            ("POST", "/reports/7", vec![bearer(&user)], allow(true)),
            (
                "POST",
                "/reports/7",
                vec![],
                deny("missing_token", None, "Bearer"),
            ),
            (
                "GET",
                "/scoped",
                vec![bearer(&writer)],
                deny(
                    "insufficient_scope",
                    Some("/scoped"),
                    r#"Bearer error="insufficient_scope", scope="api/write api/read""#,
                ),
            ),
            (
                "GET",
                "/admin/users",
                vec![bearer(&user)],
                deny("forbidden", Some("/admin/{*rest}"), forbidden),
            ),
            ("GET", "/admin/users", vec![bearer(&admin)], allow(true)),
            (
                "POST",
                "/admin/public",
                vec![],
                deny("missing_token", Some("/admin/{*rest}"), "Bearer"),
            ),
            (
                "POST",
                "/admin/public",
                vec![bearer(&user)],
                deny("forbidden", Some("/admin/{*rest}"), forbidden),
            ),
            (
                "GET",
                "/id-only",
                vec![bearer(&user)],
                deny("forbidden", Some("/id-only"), forbidden),
            ),
            ("GET", "/id-only", vec![bearer(&id)], allow(true)),
            ("GET", "/tenant", vec![bearer(&tenant)], allow(true)),
            (
                "GET",
                "/tenant",
                vec![bearer(&banned)],
                deny("forbidden", Some("/tenant"), forbidden),
            ),
            (
                "GET",
                "/tenant",
                vec![bearer(&user)],
                deny("forbidden", Some("/tenant"), forbidden),
            ),
            // Spellings the router may read differently are guarded by the route of each
            // reading; dot segments are refused outright.
            (
                "GET",
                "/%61dmin/users",
                vec![bearer(&user)],
                deny("forbidden", Some("/admin/{*rest}"), forbidden),
            ),
            (
                "GET",
                "//admin//users/",
                vec![bearer(&user)],
                deny("forbidden", Some("/admin/{*rest}"), forbidden),
            ),
            ("GET", "/%61dmin/users", vec![bearer(&admin)], allow(true)),
            (
                "GET",
                "/health/../admin/users",
                vec![bearer(&admin)],
                deny("invalid_request", None, r#"Bearer error="invalid_request""#),
            ),
            (
                "GET",
                "/health/%2e%2e%2fadmin",
                vec![],
                deny("invalid_request", None, r#"Bearer error="invalid_request""#),
            ),
            // a cookie token on a state-changing request must come from an allowed page,
            // and is refused before it is verified; header tokens are not checked
            ("POST", "/me", vec![cookie(&user)], cross_site(None)),
            (
                "DELETE",
                "/admin/users",
                vec![cookie(&admin), ("sec-fetch-site", "cross-site".to_owned())],
                cross_site(Some("/admin/{*rest}")),
            ),
            (
                "POST",
                "/me",
                vec![cookie(&expired), ("origin", "null".to_owned())],
                cross_site(None),
            ),
            (
                "POST",
                "/me",
                vec![
                    cookie("garbage"),
                    ("sec-fetch-site", "same-site".to_owned()),
                ],
                cross_site(None),
            ),
            (
                "POST",
                "/me",
                vec![cookie(&user), ("sec-fetch-site", "same-origin".to_owned())],
                allow(true),
            ),
            (
                "POST",
                "/me",
                vec![
                    cookie(&expired),
                    ("sec-fetch-site", "same-origin".to_owned()),
                ],
                deny("expired", None, invalid("token expired")),
            ),
            (
                "GET",
                "/me",
                vec![cookie(&user), ("sec-fetch-site", "cross-site".to_owned())],
                allow(true),
            ),
            (
                "POST",
                "/me",
                vec![bearer(&user), ("sec-fetch-site", "cross-site".to_owned())],
                allow(true),
            ),
            (
                "POST",
                "/me",
                vec![
                    bearer(&user),
                    cookie(&user),
                    ("sec-fetch-site", "cross-site".to_owned()),
                ],
                deny("invalid_request", None, r#"Bearer error="invalid_request""#),
            ),
            (
                "POST",
                "/me",
                vec![("sec-fetch-site", "cross-site".to_owned())],
                deny("missing_token", None, "Bearer"),
            ),
            // on a public route the request goes through, without the cross-site cookie token
            (
                "POST",
                "/health",
                vec![cookie(&user), ("sec-fetch-site", "cross-site".to_owned())],
                allow(false),
            ),
            (
                "POST",
                "/health",
                vec![cookie(&user), ("sec-fetch-site", "same-origin".to_owned())],
                allow(true),
            ),
            (
                "GET",
                "/health",
                vec![cookie(&user), ("sec-fetch-site", "cross-site".to_owned())],
                allow(true),
            ),
            // A CORS preflight is decided like any request: no token, no handler
            (
                "OPTIONS",
                "/admin/users",
                vec![("access-control-request-method", "DELETE".to_owned())],
                deny("missing_token", Some("/admin/{*rest}"), "Bearer"),
            ),
            (
                "OPTIONS",
                "/admin/users",
                vec![],
                deny("missing_token", Some("/admin/{*rest}"), "Bearer"),
            ),
        ];
        let authorizer = authorizer(AuthorizerOptions::new());
        for (method, path, pairs, expected) in cases {
            let method = Method::from_bytes(method.as_bytes()).expect("method");
            let mut headers = HeaderMap::new();
            for (name, value) in &pairs {
                headers.append(*name, HeaderValue::from_str(value).expect("header value"));
            }
            let description = format!(
                "{method} {path} {:?}",
                pairs.iter().map(|p| p.0).collect::<Vec<_>>()
            );
            // Static keys: nothing is awaited, so one poll decides.
            let decision = authorizer
                .authorize(&method, path, &headers)
                .now_or_never()
                .expect("decided without waiting");
            match (&decision, &expected) {
                (Decision::Allow { token }, Expect::Allow { with_token }) => {
                    assert_eq!(token.is_some(), *with_token, "{description}");
                }
                (
                    Decision::Deny(denial),
                    Expect::Deny {
                        code,
                        route,
                        challenge,
                    },
                ) => {
                    assert_eq!(denial.code(), *code, "{description}: {denial}");
                    assert_eq!(denial.route(), *route, "{description}");
                    let response = denial.response();
                    assert_eq!(response.status().as_u16(), denial.status(), "{description}");
                    assert_eq!(
                        response
                            .www_authenticate()
                            .map(|v| v.to_str().expect("ascii")),
                        *challenge,
                        "{description}"
                    );
                    let body = match denial.status() {
                        400 => r#"{"message":"Bad Request"}"#,
                        401 => r#"{"message":"Unauthorized"}"#,
                        _ => r#"{"message":"Forbidden"}"#,
                    };
                    assert_eq!(response.body(), body, "{description}");
                    for (_, value) in response.headers() {
                        let text = value.to_str().expect("ascii");
                        assert!(
                            !text.contains(&user) && !text.contains("eyJ"),
                            "{description}"
                        );
                    }
                    assert!(!denial.reason().contains("eyJ"), "{description}");
                }
                _ => panic!("{description}: expected {expected:?}, got {decision:?}"),
            }
        }
    }

    #[test]
    fn denials_carry_route_policy_and_reason() {
        let authorizer = authorizer(AuthorizerOptions::new().realm("api"));
        let user = issuer().access_token("openid", &["staff"], json!({}));
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {user}")).expect("value"),
        );
        let decision = authorizer
            .authorize(&Method::GET, "/reports/1", &headers)
            .now_or_never()
            .expect("ready");
        let denial = decision.denial().expect("denied");
        assert_eq!(denial.kind(), ErrorKind::InsufficientScope);
        assert_eq!(denial.policy(), "policy:reader");
        assert_eq!(denial.scopes(), ["api/read"]);
        assert_eq!(
            denial.reason(),
            "denied; failed: scope:api/read, group:admin"
        );
        assert_eq!(
            denial.response().www_authenticate().expect("challenge"),
            r#"Bearer realm="api", error="insufficient_scope", scope="api/read""#
        );
        assert_eq!(
            denial.to_string(),
            "insufficient_scope on route /reports/{id} (policy `policy:reader`): denied; failed: scope:api/read, group:admin"
        );

        let missing = authorizer
            .authorize(&Method::GET, "/nowhere", &HeaderMap::new())
            .now_or_never()
            .expect("ready");
        let denial = missing.denial().expect("denied");
        assert_eq!((denial.route(), denial.policy()), (None, "authenticated"));
        assert_eq!(denial.reason(), "no token in the request");
        assert_eq!(
            denial.response().www_authenticate().expect("challenge"),
            r#"Bearer realm="api""#
        );
    }

    #[test]
    fn cached_tokens_are_decided_without_verifying_again() {
        let authorizer = authorizer(AuthorizerOptions::new().verified_token_cache(16));
        let user = issuer().access_token("api/read", &[], json!({}));
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {user}")).expect("value"),
        );
        for _ in 0..3 {
            let decision = authorizer
                .authorize(&Method::GET, "/reports/1", &headers)
                .now_or_never()
                .expect("ready");
            assert!(decision.is_allowed());
            assert_eq!(decision.token().and_then(|t| t.sub()), Some("user-sub-1"));
        }
        assert_eq!(authorizer.verifier().cached_tokens(), 1);
    }

    #[test]
    fn single_policy_authorizers_apply_one_policy_everywhere() {
        let keys = issuer();
        let single = Authorizer::single(keys.verifier(), &"group:admin".parse().expect("parses"))
            .expect("valid");
        let admin = keys.access_token("", &["admin"], json!({}));
        let user = keys.access_token("", &["staff"], json!({}));
        let decide = |authorizer: &Authorizer, token: &str, path: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                "authorization",
                HeaderValue::from_str(&format!("Bearer {token}")).expect("value"),
            );
            authorizer
                .authorize(&Method::DELETE, path, &headers)
                .now_or_never()
                .expect("ready")
        };
        assert!(decide(&single, &admin, "/anything").is_allowed());
        assert_eq!(
            decide(&single, &user, "/x").denial().map(Denial::code),
            Some("forbidden")
        );
        assert!(Authorizer::single(keys.verifier(), &Policy::named("x")).is_err());

        let from_file = authorizer(AuthorizerOptions::new());
        let reader = from_file
            .with_policy(&Policy::named("reader"))
            .expect("named policy resolves");
        let denial = decide(&reader, &user, "/whatever");
        assert_eq!(
            denial.denial().map(Denial::code),
            Some("insufficient_scope")
        );
        assert_eq!(denial.denial().and_then(Denial::route), None);
        assert!(from_file.with_policy(&Policy::named("nope")).is_err());
    }

    #[test]
    fn builder_requires_a_verifier_and_checks_the_realm() {
        assert!(Authorizer::builder().build().is_err());
        assert!(
            Authorizer::builder()
                .verifier(issuer().verifier())
                .realm("bad \"realm\"")
                .build()
                .is_err()
        );
        let built = Authorizer::builder()
            .verifier(issuer().verifier())
            .route_methods([Method::GET], "/x", Policy::public())
            .unmatched(Policy::authenticated())
            .build()
            .expect("valid");
        let mut headers = HeaderMap::new();
        headers.insert(
            "access-control-request-method",
            HeaderValue::from_static("GET"),
        );
        let preflight = built
            .authorize(&Method::OPTIONS, "/y", &headers)
            .now_or_never()
            .expect("ready");
        assert_eq!(preflight.denial().map(Denial::code), Some("missing_token"));
        let unknown_issuer = Authorizer::builder()
            .verifier(issuer().verifier())
            .route("/x", "not issuer:partnr".parse().expect("parses"))
            .build()
            .expect_err("issuer:partnr names no issuer");
        assert!(
            unknown_issuer
                .to_string()
                .contains("issuer:partnr names no configured issuer"),
            "{unknown_issuer}"
        );
    }

    #[test]
    fn file_errors_are_located_and_key_files_checked() {
        let missing = Authorizer::from_toml_str(
            "[[issuer]]\nuser_pool_id = \"us-east-1_X\"\nany_client = true\ntoken_use = \"id\"\njwks_file = \"does-not-exist.json\"\n",
            "/nonexistent-folder",
        )
        .expect_err("missing key file");
        assert_eq!(
            (missing.file.as_str(), missing.line, missing.column),
            ("<string>", 5, 13)
        );

        let folder = issuer().jwks_path().parent().expect("folder").to_path_buf();
        std::fs::write(folder.join("not-keys.json"), "[1, 2]").expect("write");
        let bad = Authorizer::from_toml_str(
            "[[issuer]]\nuser_pool_id = \"us-east-1_X\"\nany_client = true\ntoken_use = \"id\"\njwks_file = \"not-keys.json\"\n",
            &folder,
        )
        .expect_err("not a key set");
        assert_eq!((bad.line, bad.column), (5, 13), "{bad}");
        assert!(bad.message.contains("is not a JSON key set"), "{bad}");

        // The override replaces the file's key location (and is what gets checked).
        let overridden = Authorizer::from_toml_str_with(
            "[[issuer]]\nuser_pool_id = \"us-east-1_X\"\nany_client = true\ntoken_use = \"id\"\njwks_file = \"does-not-exist.json\"\n",
            "/nonexistent-folder",
            AuthorizerOptions::new().jwks_file(issuer().jwks_path()),
        );
        assert!(overridden.is_ok(), "{:?}", overridden.err());
    }

    #[test]
    fn replacement_issuers_take_the_place_of_the_files() {
        // The file names a pool and a key file that does not exist; the replacement is used
        // instead, so the key file is never read and the file's pool no longer verifies.
        let text = "[[issuer]]\nname = \"local\"\nuser_pool_id = \"us-east-1_Other1\"\nany_client = true\ntoken_use = \"id\"\njwks_file = \"missing.json\"\n\n[[route]]\npath = \"/who\"\nrequire = \"issuer:local\"\n";
        let replacement = IssuerConfig::user_pool(crate::test_tokens::POOL_ID)
            .name("local")
            .client_ids([crate::test_tokens::CLIENT_ID])
            .token_use(crate::AcceptedTokenUse::Access)
            .jwks_json(issuer().jwks_json())
            .build()
            .expect("issuer");
        let authorizer = Authorizer::from_toml_str_with(
            text,
            "/nonexistent-folder",
            AuthorizerOptions::new()
                .issuers([replacement])
                .clock(FixedClock(Duration::from_secs(NOW))),
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let token = issuer().access_token("openid", &[], json!({}));
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {token}")).expect("value"),
        );
        let decision = authorizer
            .authorize(&Method::GET, "/who", &headers)
            .now_or_never()
            .expect("ready");
        assert!(decision.is_allowed(), "{:?}", decision.denial());
        // Without the replacement, the missing key file is reported at load time.
        let missing = Authorizer::from_toml_str(text, "/nonexistent-folder")
            .expect_err("the file's key file is missing");
        assert!(
            missing.message.contains("cannot read jwks_file"),
            "{missing}"
        );
    }

    #[test]
    fn the_example_policy_file_loads_and_decides() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policy.toml");
        // As shipped (its own static key file) it loads:
        let shipped = Authorizer::from_file(&path).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(shipped.routes().routes().len(), 4);
        // With the test key in place of examples/jwks.json, decisions follow the routes:
        let authorizer = Authorizer::from_file_with(
            &path,
            AuthorizerOptions::new()
                .jwks_file(issuer().jwks_path())
                .clock(FixedClock(Duration::from_secs(NOW))),
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let keys = issuer();
        let user = keys.access_token("openid", &[], json!({}));
        let admin = keys.access_token("openid", &["admin"], json!({}));
        let reader = keys.access_token("reports/read", &[], json!({}));
        // (method, path, token, expected code or "allow")
        let cases = [
            ("GET", "/health", None, "allow"),
            ("GET", "/me", None, "missing_token"),
            ("GET", "/me", Some(&user), "allow"),
            ("GET", "/admin/users", Some(&user), "forbidden"),
            ("GET", "/admin/users", Some(&admin), "allow"),
            ("GET", "/admin", Some(&admin), "allow"),
            ("GET", "/reports/1", Some(&user), "insufficient_scope"),
            ("GET", "/reports/1", Some(&reader), "allow"),
            // No DELETE route: the default denies.
            ("DELETE", "/reports/1", Some(&reader), "forbidden"),
        ];
        for (method, path, token, expected) in cases {
            let mut headers = HeaderMap::new();
            if let Some(token) = token {
                headers.insert(
                    "authorization",
                    HeaderValue::from_str(&format!("Bearer {token}")).expect("value"),
                );
            }
            let method = Method::from_bytes(method.as_bytes()).expect("method");
            let decision = authorizer
                .authorize(&method, path, &headers)
                .now_or_never()
                .expect("ready");
            let got = decision.denial().map_or("allow", Denial::code);
            assert_eq!(got, expected, "{method} {path}");
        }
    }
}
