//! An API Gateway Lambda authorizer that decides with the same policy file, and the same
//! code, as the in-process cognito-authz layer.
//!
//! Deploy it in a few lines:
//!
//! ```no_run
//! use cognito_authz_core::Authorizer;
//! use cognito_authz_lambda::lambda_runtime;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), lambda_runtime::Error> {
//!     let authorizer = Authorizer::builder().policy_file("policy.toml").build()?;
//!     cognito_authz_lambda::run(authorizer).await
//! }
//! ```
//!
//! One function serves the three kinds of authorizer API Gateway offers, told apart by the
//! event:
//!
//! | event | route taken from | answer |
//! |---|---|---|
//! | REST API `TOKEN` | `methodArn` (method and path) | IAM policy |
//! | REST API `REQUEST` (and HTTP API payload 1.0) | `methodArn` (method and path); headers, `multiValueHeaders` | IAM policy |
//! | HTTP API payload 2.0 | `requestContext.http.method`, `rawPath` (stage removed), headers, cookies | `{isAuthorized, context}` |
//!
//! The request path is the concrete one in `methodArn`, not the `resource` template
//! (`/{proxy+}` names no route of the table): it is what the returned policy is matched
//! against. The decision is [`Authorizer::authorize`]'s, and its outcome maps to API
//! Gateway's rules:
//!
//! | in-process answer | authorizer answer | client sees |
//! |---|---|---|
//! | allow | IAM `Allow` / `isAuthorized: true`, `principalId` = `sub` | the backend's answer |
//! | 401 (no token, invalid token, revoked) | the error `Unauthorized` | 401 |
//! | 400 `invalid_request` (two tokens, a `.`/`..` path segment, a path holding `\`, `?`, `#`, a control character or a trailing blank) | the error `Unauthorized` | 401 |
//! | 403 (`insufficient_scope`, `forbidden`, `cross_site_request`) | IAM `Deny` (naming the request's own `methodArn`, see below) / `isAuthorized: false` | 403 |
//! | 503 (keys or revocation store unavailable) | another error, logged at `error` | 500 |
//!
//! A path holding `\`, `?`, `#`, a control character or a trailing blank is refused: a URL
//! parser behind the API (lambda_http's, for one) reads it otherwise than the route table does
//! (`\` as `/`, the path ended at `?` or `#`, tabs dropped, trailing blanks trimmed). An HTTP API
//! request for the stage alone (`rawPath` `/prod` on stage `prod`) is decided as `/` and as
//! `/prod`, the path lambda_http routes it on: both routes must allow it. Cedar routes get the
//! query string of REST `REQUEST` events (their query parameters, written out again) and HTTP
//! API events (`rawQueryString`). A `TOKEN` event carries neither the query string nor the
//! headers, which Cedar policies may read, so a request it brings to a route with a `cedar`
//! atom is refused (403, `Deny`) even where Cedar would allow it without them: use a `REQUEST`
//! authorizer for Cedar routes (feature `cedar`). A request during which a policy reload lands is
//! decided again on the new policy, so an answer never reads the route or the principal of one
//! policy and the decision of another; a request that meets a reload on each of three tries is
//! a server error.
//!
//! API Gateway has no way to answer 400 from an authorizer; `Unauthorized` is an error, not a
//! policy, so nothing is cached for it and nothing is granted. With the authorizer cache on
//! (see below), a `public` route's request carrying a token is answered for the token's
//! principal, so a token the keys or the revocation store cannot check at that moment is a
//! server error there too: an answer written for no principal would be cached and refuse the
//! user's other routes after the keys are back.
//!
//! # The authorizer cache
//!
//! With a result TTL above zero, API Gateway caches the policy by identity source and applies
//! it to **every later request** with the same token, on any method and path. A policy that
//! names only the current `methodArn` then refuses other routes the user may call; one with a
//! wildcard grants routes the user may not call. The default [`PolicyScope::Table`] compiles
//! the whole route table for the principal into `Allow` resources plus explicit `Deny`
//! resources, and keeps each resource only after checking it against every path as IAM reads
//! it: IAM's `*` also matches `/`, so `GET/*/settings` also matches `/a/b/settings`, and is
//! kept only beside a `Deny` of `GET/*/*/settings` when the layer refuses those. The cached
//! policy never grants a request the in-process layer refuses. Where IAM wildcards cannot write
//! the table exactly — a `*` that would also grant deeper paths the layer refuses; a parameter
//! with text around it (`/files/v{version}`, `/users/@{handle}`), which matches some segments
//! and not others; a pattern holding `*`, `?` or `$`, which a resource would read as a wildcard
//! or a policy variable — the policy refuses those requests instead, and a warning names some
//! of them. The request the policy is returned for, when the layer allows it, is always granted
//! by it, by its exact ARN if need be, unless its path holds `*`, `?` or `$` (for cookie tokens,
//! see below). Paths the layer reads in several ways (percent-encoded, empty or dot segments, a
//! trailing `/`), and those a URL parser reads otherwise (a `\`, a `#`, a trailing blank), are
//! refused by that policy, that request included. A refused request's own
//! `methodArn` is denied by name, except where the name would refuse more than the request
//! (its path holds `*`, `?` or `$`, with the cache on) or would not be read (longer than 512
//! characters) and no `Allow` of the policy grants it: one request of another site could
//! otherwise have the cached answer refuse all of the user's routes. An allowed request
//! whose `methodArn` is too long to name is refused by that policy.
//!
//! Compiling a table takes time that grows with it (a good part of a second for some hundred
//! routes), so a warm function keeps what it compiled: the table compiled for no token once per
//! loaded route table, and each token's under its payload exactly as signed and the name of the
//! issuer that accepted it, which hold every claim a policy reads. At most 1024 tokens' tables
//! and 16 MiB are kept by default ([`LambdaAuthorizer::policy_cache_limits`]), the oldest
//! dropped first. A kept table is used only while the function's clock reads before the
//! token's `exp`, and everything is dropped when the policy is reloaded. Only compiled tables
//! are kept, never a decision: every request is still verified, revocation included, and
//! decided before, and what concerns the request alone (its own `methodArn`, granted or
//! denied) is added each time. [`LambdaAuthorizer::policy_cache_stats`] counts compilations
//! and hits.
//!
//! With the result TTL at 0, declared with [`LambdaAuthorizer::cache_disabled`], nothing is
//! reused, so no table is compiled at all: a REST answer allows or denies the request's own
//! `methodArn` and nothing else, whatever the [`PolicyScope`], exactly as the in-process layer
//! decides that request.
//!
//! A cached answer outlives what it was decided on: API Gateway applies it for the whole TTL,
//! after the token expires, after it is revoked, after a policy reload; keep the TTL below the
//! delay you accept for those. Routes with a `cedar` atom are refused by the cache-safe policy,
//! the request it is returned for included (Cedar may read what the cache does not key on,
//! such as the query string): give them a TTL of 0 and [`LambdaAuthorizer::cache_disabled`].
//!
//! # Answer size
//!
//! API Gateway takes at most 8 KB ([`MAX_ANSWER_BYTES`]) as a Lambda authorizer's result (its
//! quotas state it for WebSocket APIs; the function keeps to it for every answer), and at most
//! 512 characters in one resource ARN of its policy. A cache-safe policy larger than that is
//! never returned. With the cache on, the function answers instead with the same
//! policy for the request's method only, or, if that is still too large, with a policy for the
//! request's own `methodArn`, and logs a warning once per loaded table: the cached answer then
//! refuses the token's other routes (or other methods) until the TTL ends. Such tables need
//! the result TTL at 0 and [`LambdaAuthorizer::cache_disabled`]; then every answer names the
//! request's own `methodArn` only (see below), which is exact. Each smaller policy grants a part of what
//! the larger one grants, never more. An answer still too large (a context with very many
//! groups) is a server error.
//!
//! [`PolicyScope::Request`] returns a policy for the current `methodArn` only: correct only
//! when the authorizer's TTL is 0, so it logs a warning unless [`LambdaAuthorizer::cache_disabled`]
//! says so. HTTP API simple responses (`isAuthorized`) have no resources at all: with caching
//! on, one answer is reused for every route, so a warning is logged unless caching is
//! declared off; give such APIs a TTL of 0 or route-specific identity sources.
//!
//! # Cookie tokens
//!
//! A token read from a cookie (a [`TokenSource`](cognito_authz_core::TokenSource) with a
//! cookie) meets the cross-site check on every method but `GET`, `HEAD` and `OPTIONS`: another
//! site's page can make the browser send the cookie. The check reads `Sec-Fetch-Site`,
//! `Origin` and `Referer`, which API Gateway's cache key (the identity source: the cookie)
//! does not hold, so a grant cached for the app's own page would also answer a forged request
//! with the same cookie. So, unless [`LambdaAuthorizer::cache_disabled`] says the cache is off,
//! a cookie token's answer grants those methods only as to a caller without a token (the
//! routes that need none), for the request itself and in the cached policy, and a warning says
//! so once. With the result TTL at 0 and `cache_disabled()`, each request is decided as the
//! in-process layer decides it: the app's own pages may change state, other sites may not.
//!
//! With the cache on, the answer is the same whichever page sent the request, since it is
//! reused for every page. Another site's state-changing request to a `public` route is served
//! (as in-process), and answered for the cookie's principal: an answer for no principal would
//! be cached and refuse the user's own `GET`s of guarded routes until the TTL ends. For the
//! same reason the `principalId` and `context` of a cached answer reach the backend with
//! another site's requests carrying the cookie: a backend must not take them as proof that
//! the user made a state-changing request (check `Sec-Fetch-Site` or `Origin` there, or turn
//! the cache off).
//!
//! # Context
//!
//! The response `context` holds flat string values only: `sub`, `username`, `token_use`,
//! `client_id`, `issuer` (the configured issuer's name), `groups_json` (the groups as a JSON
//! array, e.g. `["admin","Sales, EMEA"]`), `groups` (comma-separated, kept for existing
//! backends, and left out when a group name holds a comma, since it would then read as other
//! groups), `scopes` (space-separated: a scope holds no space), `route` (the matched pattern;
//! with caching, the one of the request that filled the cache), `route_key` and `event`.
//! Read `groups_json`: it is the only one that always lists the token's groups as they are.
#![forbid(unsafe_code)]

mod cache;
mod event;
mod iam;

use std::sync::Arc;

use cognito_authz_core::{
    Authorizer, Decision, ErrorKind, RequestTarget, RouteTable, TokenLocation, VerifiedToken,
    Verifier,
};
use http::{HeaderMap, StatusCode};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::{Map, Value, json};

pub use cache::PolicyCacheStats;
pub use event::EventKind;
/// The Lambda runtime the function runs on, so a function needs no other dependency for it.
pub use lambda_runtime;

use cache::PolicyCache;
use event::AuthorizerRequest;
use iam::{METHODS, MethodArn, PolicyDocument, TablePolicy};

/// The principal of answers given without a verified token (a `public` route, no token).
pub const ANONYMOUS_PRINCIPAL: &str = "anonymous";

/// The largest answer, in bytes of JSON, the function returns: API Gateway's quota on a
/// Lambda authorizer's result (8 KB). A larger cache-safe policy is replaced by a smaller one
/// that is still correct (see the crate docs), and an answer that cannot be made to fit is a
/// server error, never a larger answer.
pub const MAX_ANSWER_BYTES: usize = 8 * 1024;

/// How many times a request is decided when reloads keep landing while it is.
const DECISION_ATTEMPTS: usize = 3;

/// A decision with the route table and the verifier of the policy it was taken on.
struct Decided {
    decision: Decision,
    routes: Arc<RouteTable>,
    verifier: Verifier,
}

/// What the IAM policy of a REST answer covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PolicyScope {
    /// The whole route table compiled for the principal: safe with the authorizer cache.
    /// With [`LambdaAuthorizer::cache_disabled`], the request's own `methodArn` instead.
    #[default]
    Table,
    /// The current `methodArn` only: correct only with the authorizer cache off (TTL 0).
    Request,
}

/// An error answer: `Unauthorized` (API Gateway's 401) or a server error (500).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizerError {
    /// No usable token, or a request refused before any policy: the exact message API
    /// Gateway turns into 401.
    Unauthorized,
    /// Keys unavailable or an event that is not an authorizer event: API Gateway answers 500.
    /// The text is for the function's log; the client sees only the status.
    Internal(String),
}

impl std::fmt::Display for AuthorizerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthorizerError::Unauthorized => f.write_str("Unauthorized"),
            AuthorizerError::Internal(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for AuthorizerError {}

impl From<AuthorizerError> for Diagnostic {
    fn from(error: AuthorizerError) -> Self {
        let error_type = match error {
            AuthorizerError::Unauthorized => "Unauthorized",
            AuthorizerError::Internal(_) => "AuthorizerError",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// The authorizer function: an [`Authorizer`] plus how answers are shaped. Cheap to clone.
#[derive(Debug, Clone)]
#[must_use]
pub struct LambdaAuthorizer {
    authorizer: Authorizer,
    scope: PolicyScope,
    cache_disabled: bool,
    warned: Arc<std::sync::Once>,
    warned_cookies: Arc<std::sync::Once>,
    policies: Arc<PolicyCache>,
}

impl LambdaAuthorizer {
    /// Answers with cache-safe policies ([`PolicyScope::Table`]).
    pub fn new(authorizer: Authorizer) -> Self {
        Self {
            authorizer,
            scope: PolicyScope::Table,
            cache_disabled: false,
            warned: Arc::new(std::sync::Once::new()),
            warned_cookies: Arc::new(std::sync::Once::new()),
            policies: Arc::new(PolicyCache::new(
                cache::DEFAULT_ENTRIES,
                cache::DEFAULT_BYTES,
            )),
        }
    }

    /// Bounds the compiled policies kept between invocations: at most `entries` principals'
    /// tables (default 1024; 0 keeps none) holding at most `bytes` (default 16 MiB), the
    /// oldest dropped first. The table compiled for no token is kept besides, once per loaded
    /// route table. Starts with an empty cache.
    pub fn policy_cache_limits(mut self, entries: usize, bytes: usize) -> Self {
        self.policies = Arc::new(PolicyCache::new(entries, bytes));
        self
    }

    /// What the compiled-policy cache has done: compilations, hits, entries and bytes kept.
    pub fn policy_cache_stats(&self) -> PolicyCacheStats {
        self.policies.stats()
    }

    /// What REST policies cover (default [`PolicyScope::Table`]).
    pub fn policy_scope(mut self, scope: PolicyScope) -> Self {
        self.scope = scope;
        self
    }

    /// Declares that the authorizer's result TTL is 0 (API Gateway's cache off), which makes
    /// one-request policies and HTTP API simple responses safe and silences their warning.
    /// REST answers then name the request's own `methodArn` only, and no route table is
    /// compiled.
    pub fn cache_disabled(mut self) -> Self {
        self.cache_disabled = true;
        self
    }

    /// The authorizer deciding the requests.
    pub fn authorizer(&self) -> &Authorizer {
        &self.authorizer
    }

    /// Answers one authorizer event (any of the three shapes) with the JSON API Gateway
    /// expects, or an error whose message API Gateway reads.
    ///
    /// # Errors
    /// [`AuthorizerError::Unauthorized`] for a missing or invalid token (and for 400
    /// requests); [`AuthorizerError::Internal`] when keys are unavailable or the event is not
    /// an authorizer event.
    pub async fn handle(&self, event: Value) -> Result<Value, AuthorizerError> {
        let source = self.authorizer.token_source();
        let request =
            AuthorizerRequest::from_value(event, source.header_name()).map_err(|error| {
                tracing::error!(reason = %error.0, "unreadable authorizer event");
                AuthorizerError::Internal(format!("unreadable authorizer event: {}", error.0))
            })?;
        self.warn_once(request.kind);
        if read_otherwise_by_a_url_parser(&request.path) {
            // A backend reads such a path otherwise than the route table would (a URL parser
            // takes `\` for `/`, ends the path at `?` or `#`, drops tabs and line breaks and
            // trims trailing blanks): refused, as a `.` or `..` segment is.
            tracing::debug!(
                event = request.kind.as_str(),
                "request denied: the path holds a character a URL parser reads otherwise"
            );
            return Err(AuthorizerError::Unauthorized);
        }
        let mut target = RequestTarget::new(&request.path).with_query(request.query.as_deref());
        if let Some(also) = &request.also {
            target = target.with_raw_path(also);
        }
        let Decided {
            decision,
            routes,
            verifier,
        } = self.decide(&request, target).await?;
        let guards = routes.matches(&request.method, target);
        let route = guards.primary().pattern().map(str::to_owned);
        // A `TOKEN` event carries neither the query string nor the headers, which a Cedar
        // route's policies may read (a `forbid` on a query parameter): what Cedar would allow
        // without them is refused, never granted.
        let cedar_unseen = request.kind == EventKind::RestToken
            && guards.iter().any(|found| found.policy().uses_cedar());
        let (allowed, token) = match decision {
            Decision::Allow { .. } if cedar_unseen => {
                tracing::debug!(
                    route = route.as_deref().unwrap_or("<unmatched>"),
                    event = request.kind.as_str(),
                    "request denied: a Cedar route needs a REQUEST authorizer (a TOKEN event carries no query string)"
                );
                (false, self.principal_token(&request, &verifier).await?)
            }
            Decision::Allow { token: Some(token) } => (true, Some(token)),
            // Allowed with no token taken: a public route, with no token, one that did not
            // verify, or a cookie token another site may have sent. API Gateway may reuse the
            // answer for every later request with the same token, so it is written for the
            // token's principal: the same answer whichever request fills the cache.
            Decision::Allow { token: None } if !self.cache_disabled => {
                (true, self.principal_token(&request, &verifier).await?)
            }
            Decision::Allow { token: None } => (true, None),
            Decision::Deny(denial) => match denial.status() {
                StatusCode::SERVICE_UNAVAILABLE => {
                    tracing::error!(
                        code = denial.code(),
                        route = denial.route().unwrap_or("<unmatched>"),
                        event = request.kind.as_str(),
                        "{}: answering with a server error",
                        unavailable(denial.kind())
                    );
                    return Err(AuthorizerError::Internal(
                        unavailable(denial.kind()).to_owned(),
                    ));
                }
                StatusCode::FORBIDDEN => (false, self.principal_token(&request, &verifier).await?),
                _ => {
                    tracing::debug!(
                        code = denial.code(),
                        route = denial.route().unwrap_or("<unmatched>"),
                        event = request.kind.as_str(),
                        "answering Unauthorized"
                    );
                    return Err(AuthorizerError::Unauthorized);
                }
            },
        };
        // A cookie token's answer, while API Gateway may reuse it, grants the methods the
        // cross-site check judges only as the layer answers another site: as to no token.
        let cross_site = self.answers_other_sites(&request);
        let judged = cross_site && source.checks_cross_site(&request.method);
        let allowed = allowed && (!judged || self.allows_anonymous(&request, target).await);
        let context = context(token.as_deref(), route.as_deref(), &request);
        let answer = match request.kind {
            EventKind::HttpApiV2 => json!({"isAuthorized": allowed, "context": context}),
            EventKind::RestToken | EventKind::RestRequest => {
                let arn = request.arn.as_ref().ok_or_else(|| {
                    AuthorizerError::Internal("REST event without methodArn".to_owned())
                })?;
                let answer = Answer {
                    principal: token
                        .as_deref()
                        .and_then(VerifiedToken::sub)
                        .unwrap_or(ANONYMOUS_PRINCIPAL),
                    arn,
                    allowed,
                    context,
                    cache_disabled: self.cache_disabled,
                };
                self.rest_answer(&routes, token.as_deref(), &answer, cross_site)
            }
        };
        if answer_bytes(&answer) > MAX_ANSWER_BYTES {
            // Only the context can make it so (a token with very many groups): a larger
            // answer would fail in API Gateway, a smaller context would tell the backend less
            // than the token says.
            tracing::error!(
                bytes = answer_bytes(&answer),
                limit = MAX_ANSWER_BYTES,
                event = request.kind.as_str(),
                "the answer is larger than API Gateway accepts from an authorizer, even with the smallest policy: answering with a server error"
            );
            return Err(AuthorizerError::Internal(
                "authorizer answer too large".to_owned(),
            ));
        }
        Ok(answer)
    }

    /// The decision on `request`, with the route table and the verifier of the policy it was
    /// taken on. What the answer reads afterwards (the route's pattern, whether Cedar guards
    /// it, the principal the cached policy is compiled for) must be of that policy: a reload
    /// landing while the request is decided makes it decide again on the new one, and a
    /// request that keeps meeting reloads is a server error, never an answer of two policies.
    async fn decide(
        &self,
        request: &AuthorizerRequest,
        target: RequestTarget<'_>,
    ) -> Result<Decided, AuthorizerError> {
        for _ in 0..DECISION_ATTEMPTS {
            // Held while deciding, so no later table can be allocated where this one is: the
            // same address after the decision means no reload landed in between, so the
            // verifier read between the two is of the same policy.
            let routes = self.authorizer.routes();
            let verifier = self.authorizer.verifier();
            let decision = self
                .authorizer
                .authorize(&request.method, target, &request.headers)
                .await;
            if Arc::ptr_eq(&routes, &self.authorizer.routes()) {
                return Ok(Decided {
                    decision,
                    routes,
                    verifier,
                });
            }
        }
        tracing::error!(
            attempts = DECISION_ATTEMPTS,
            event = request.kind.as_str(),
            "the policy was reloaded while each attempt was decided: answering with a server error"
        );
        Err(AuthorizerError::Internal(
            "the policy was reloaded while deciding".to_owned(),
        ))
    }

    /// The token of a request answered without one, or refused (403), so that the policy can
    /// be written for its principal, verified by `verifier` (the deciding policy's). A token that does not verify (or none) yields the
    /// anonymous principal; unavailable keys or revocation store are a server error, so that
    /// no answer written for the wrong principal is cached.
    async fn principal_token(
        &self,
        request: &AuthorizerRequest,
        verifier: &Verifier,
    ) -> Result<Option<Arc<VerifiedToken>>, AuthorizerError> {
        let Ok(raw) = self.authorizer.token_source().extract(&request.headers) else {
            return Ok(None);
        };
        match verifier.verify(raw).await {
            Ok(token) => Ok(Some(token)),
            Err(error) if error.status() == StatusCode::SERVICE_UNAVAILABLE => {
                tracing::error!(code = error.code(), "{}", unavailable(error.kind()));
                Err(AuthorizerError::Internal(
                    unavailable(error.kind()).to_owned(),
                ))
            }
            Err(_) => Ok(None),
        }
    }

    /// Whether this answer may be reused for requests another site made the browser send: a
    /// cookie token with API Gateway's cache not declared off. The cache key (the identity
    /// source: the cookie) does not hold the headers the cross-site check reads
    /// (`Sec-Fetch-Site`, `Origin`, `Referer`), so a grant cached for the app's own page
    /// would also answer a forged request carrying the same cookie.
    fn answers_other_sites(&self, request: &AuthorizerRequest) -> bool {
        if self.cache_disabled {
            return false;
        }
        let from_cookie = matches!(
            self.authorizer
                .token_source()
                .extract_located_from(&request.headers),
            Ok((_, TokenLocation::Cookie))
        );
        if from_cookie {
            self.warned_cookies.call_once(|| {
                tracing::warn!(
                    "cookie tokens with the authorizer cache on: state-changing requests are allowed only where they need no token, because a cached grant would also answer another site's request with the same cookie; set the authorizer's result TTL to 0 and call cache_disabled()"
                );
            });
        }
        from_cookie
    }

    /// What the layer decides for the request sent with no token: how it answers another
    /// site's request, whose cookie token it does not take.
    async fn allows_anonymous(
        &self,
        request: &AuthorizerRequest,
        target: RequestTarget<'_>,
    ) -> bool {
        let decision = self
            .authorizer
            .authorize(&request.method, target, &HeaderMap::new())
            .await;
        matches!(decision, Decision::Allow { .. })
    }

    /// A REST answer: the policy document the scope asks for, made smaller when it would
    /// exceed what API Gateway accepts.
    ///
    /// With the cache declared off (or [`PolicyScope::Request`]) the document is the request's
    /// own `methodArn` alone. A cache-safe document too large (in bytes, or a resource too
    /// long) is replaced by the same policy for the request's method only, then by a policy
    /// for the request's own `methodArn`. Each is a subset of the grants of the one before it, with every deny
    /// that can refuse what it grants, so none grants a request the layer refuses. Past all
    /// of them, the document denies everything.
    fn rest_answer(
        &self,
        routes: &Arc<RouteTable>,
        token: Option<&VerifiedToken>,
        answer: &Answer<'_>,
        cross_site: bool,
    ) -> Value {
        let arn = answer.arn;
        // The request's own ARN, granted or denied. With the cache on it is reused for later
        // requests, so it grants nothing when its path holds `*` or `?` (IAM wildcards, which
        // would grant other paths too) or `$` (a policy variable).
        let single = || {
            let grant =
                answer.allowed && (self.cache_disabled || !arn.path().contains(['*', '?', '$']));
            PolicyDocument::single(arn.arn(), grant)
        };
        // With the cache declared off, API Gateway applies the answer to this request alone:
        // its own ARN says all there is to say, and no table is compiled.
        if self.cache_disabled || self.scope == PolicyScope::Request {
            return answer
                .fitted(single())
                .unwrap_or_else(|| answer.denying_all());
        }
        let own = match token {
            Some(token) => self.principal_table(routes, token),
            None => self.anonymous_table(routes),
        };
        // With a cookie token answering other sites, the methods the cross-site check judges
        // are granted only as to a caller without a token.
        let anonymous = (cross_site && token.is_some()).then(|| self.anonymous_table(routes));
        let source = self.authorizer.token_source();
        let render = |methods: &[http::Method]| {
            iam::document(routes, arn, methods, |method| match &anonymous {
                Some(anonymous) if source.checks_cross_site(method) => (&**anonymous, None),
                _ => (&*own, token),
            })
        };
        if let Some(fitted) = answer.fitted(render(&METHODS)) {
            return fitted;
        }
        // Only with the cache on: with it off, the request's own ARN was answered above.
        let method: Vec<http::Method> = METHODS
            .iter()
            .filter(|method| method.as_str() == arn.method())
            .cloned()
            .collect();
        let smaller = [
            ("the request's method only", render(&method)),
            ("the request's own methodArn", single()),
        ];
        for (extent, document) in smaller {
            if let Some(fitted) = answer.fitted(document) {
                if self.policies.first_too_large(routes) {
                    tracing::warn!(
                        limit = MAX_ANSWER_BYTES,
                        answered_with = extent,
                        "the route table's cache-safe IAM policy is larger than API Gateway accepts from an authorizer: answering with a policy for {extent}, which a cached answer applies to every later request with the same token, refusing its other routes until the TTL ends; set the authorizer's result TTL to 0 and call cache_disabled(), or use a smaller route table"
                    );
                }
                return fitted;
            }
        }
        tracing::debug!(
            "the request's methodArn is too long to name in a policy: answering with a policy that denies everything"
        );
        answer.denying_all()
    }

    /// The route table compiled for no token, once per loaded table.
    fn anonymous_table(&self, routes: &Arc<RouteTable>) -> Arc<TablePolicy> {
        self.policies
            .anonymous(routes, || self.compile_table(routes, None))
    }

    /// The route table compiled for `token`, kept until the token's `exp` or a reload.
    ///
    /// The key is the name of the issuer that accepted the token and its payload exactly as
    /// signed: every claim a policy reads (groups, scopes, `token_use`, client, any `claim:`)
    /// is read from that payload, and `issuer:` from that name, so two tokens share a
    /// compiled table only when every policy decides them alike. Unlike the bytes of a
    /// header, it is the identity that was verified, wherever it came from (a header, a
    /// cookie, an ALB's token).
    fn principal_table(&self, routes: &Arc<RouteTable>, token: &VerifiedToken) -> Arc<TablePolicy> {
        let (issuer, payload) = (token.issuer_name(), token.payload_json());
        // The name's length first, so that no two (name, payload) pairs spell the same key.
        let mut key = Vec::with_capacity(8 + issuer.len() + payload.len());
        key.extend_from_slice(&(issuer.len() as u64).to_le_bytes());
        key.extend_from_slice(issuer.as_bytes());
        key.extend_from_slice(payload.as_bytes());
        self.policies.principal(
            routes,
            &key,
            token.expires_at(),
            self.authorizer.verifier().clock().now(),
            || self.compile_table(routes, Some(token)),
        )
    }

    /// The route table compiled for the principal holding `token` (or none), with a warning
    /// naming what IAM wildcards cannot express.
    fn compile_table(&self, routes: &RouteTable, token: Option<&VerifiedToken>) -> TablePolicy {
        self.policies.count_compilation();
        let compiled = iam::compile_table(routes, token);
        if !compiled.narrowed.is_empty() {
            let examples: Vec<String> = compiled
                .narrowed
                .iter()
                .take(5)
                .map(|(method, path)| format!("{method} {path}"))
                .collect();
            tracing::warn!(
                count = compiled.narrowed.len(),
                examples = %examples.join(", "),
                "the route table cannot be written exactly as an IAM policy for this principal: the cached policy refuses these requests, which the in-process layer allows"
            );
        }
        compiled
    }

    fn warn_once(&self, kind: EventKind) {
        if self.cache_disabled {
            return;
        }
        let message = match (kind, self.scope) {
            (EventKind::HttpApiV2, _) => {
                "HTTP API simple responses are reused for every route while cached: set the authorizer's result TTL to 0 and call cache_disabled(), or every route gets the first request's answer"
            }
            (_, PolicyScope::Request) => {
                "method-only IAM policies with the authorizer cache on: a cached policy refuses every other route for this token; use PolicyScope::Table or set the TTL to 0 and call cache_disabled()"
            }
            (_, PolicyScope::Table) => return,
        };
        self.warned.call_once(|| tracing::warn!("{message}"));
    }
}

/// What every REST answer of one request holds besides its policy document.
struct Answer<'a> {
    principal: &'a str,
    arn: &'a MethodArn,
    allowed: bool,
    context: Value,
    /// Whether API Gateway's cache is declared off: then a `Deny` applies to this request
    /// only.
    cache_disabled: bool,
}

impl Answer<'_> {
    /// The answer with `document`, which never grants the request when it is refused, if it
    /// is within API Gateway's limits.
    fn fitted(&self, mut document: PolicyDocument) -> Option<Value> {
        let own = self.arn.arn();
        if !self.allowed && !document.deny.contains(&own) {
            // Whatever the table grants the principal, never this refused request.
            if let Some(deny) = self.own_deny(&document, own) {
                document.deny.push(deny);
            }
        }
        let answer = self.with(&document);
        (document.resources_fit() && answer_bytes(&answer) <= MAX_ANSWER_BYTES).then_some(answer)
    }

    /// The resource that refuses this refused request in `document`, if one is needed: its
    /// own ARN, unless that ARN would refuse more than the request, or not be read at all.
    ///
    /// With the cache on, a `Deny` is applied to every later request of the token: a path
    /// holding `*` or `?` (IAM wildcards) or `$` (a policy variable) would refuse other paths
    /// too (`GET/*` every `GET`), and an ARN longer than API Gateway reads would make the
    /// whole answer fall back to denying everything. Neither is needed when no `Allow` of the
    /// document matches the request: IAM refuses what nothing grants. An over-long ARN an
    /// `Allow` matches is refused by its first characters followed by `*`, which refuses only
    /// paths that begin alike; a wildcard path an `Allow` matches (the layer deciding it
    /// apart from the paths the table reads alike) is still named, refusing more, never less.
    fn own_deny(&self, document: &PolicyDocument, own: String) -> Option<String> {
        let too_long = own.chars().count() > iam::MAX_RESOURCE_CHARS;
        let wild = !self.cache_disabled && self.arn.path().contains(['*', '?', '$']);
        if !too_long && !wild {
            return Some(own);
        }
        let granted = document
            .allow
            .iter()
            .any(|resource| iam::glob_matches(resource, &own));
        if !granted {
            return None;
        }
        if too_long {
            let mut cut: String = own.chars().take(iam::MAX_RESOURCE_CHARS - 1).collect();
            cut.push('*');
            return Some(cut);
        }
        Some(own)
    }

    /// The answer with a document that denies everything.
    fn denying_all(&self) -> Value {
        self.with(&PolicyDocument::default())
    }

    fn with(&self, document: &PolicyDocument) -> Value {
        json!({
            "principalId": self.principal,
            "policyDocument": document.to_json(),
            "context": self.context,
        })
    }
}

/// The bytes of an answer as JSON, as API Gateway receives it.
fn answer_bytes(answer: &Value) -> usize {
    answer.to_string().len()
}

/// What a 503 answer lacks, for the log and the server error's message.
fn unavailable(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::JwksUnavailable => "signing keys unavailable",
        ErrorKind::RevocationUnavailable => "revocation store unavailable",
        _ => "a dependency of the authorizer is unavailable",
    }
}

fn context(
    token: Option<&VerifiedToken>,
    route: Option<&str>,
    request: &AuthorizerRequest,
) -> Value {
    let mut context = Map::new();
    let mut put = |key: &str, value: Option<&str>| {
        if let Some(value) = value {
            context.insert(key.to_owned(), Value::String(value.to_owned()));
        }
    };
    put("event", Some(request.kind.as_str()));
    put("route", route);
    put("route_key", request.route_key.as_deref());
    if let Some(token) = token {
        put("sub", token.sub());
        put("username", token.username());
        put("token_use", token.token_use().map(|t| t.as_str()));
        put("client_id", token.client_id());
        put("issuer", Some(token.issuer_name()));
        let groups = token.groups();
        // A group name may hold a comma: the comma-separated list is given only while it
        // reads back as the same groups.
        if !groups.iter().any(|group| group.contains(',')) {
            put("groups", Some(&groups.join(",")));
        }
        let listed: Vec<&str> = groups.iter().collect();
        put("groups_json", Some(&Value::from(listed).to_string()));
        put("scopes", Some(&token.scopes().join(" ")));
    }
    Value::Object(context)
}

/// Runs the authorizer as a Lambda function with cache-safe policies, until the runtime
/// stops.
///
/// # Errors
/// The runtime's own failures (no Lambda runtime API reachable).
pub async fn run(authorizer: Authorizer) -> Result<(), lambda_runtime::Error> {
    run_with(LambdaAuthorizer::new(authorizer)).await
}

/// [`run`] with a configured [`LambdaAuthorizer`].
///
/// # Errors
/// As [`run`].
pub async fn run_with(authorizer: LambdaAuthorizer) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let authorizer = authorizer.clone();
        async move { authorizer.handle(event.payload).await }
    }))
    .await
}

/// Whether a URL parser (the one a backend such as lambda_http builds its request with) reads
/// `path` otherwise than as written: a `\`, which it takes for `/`; a `?` or `#`, where the
/// path ends; a control character, which it drops or refuses; a trailing blank, which it
/// trims. An HTTP API's `rawPath` is reported to reach the authorizer decoded, so a client's
/// `%5C` can arrive as `\`.
fn read_otherwise_by_a_url_parser(path: &str) -> bool {
    path.bytes()
        .any(|byte| matches!(byte, b'\\' | b'?' | b'#' | 0..=0x1f | 0x7f))
        || path.ends_with(' ')
}
