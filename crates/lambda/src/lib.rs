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
//! | 400 `invalid_request` (two tokens, a `.`/`..` path segment) | the error `Unauthorized` | 401 |
//! | 403 (`insufficient_scope`, `forbidden`, `cross_site_request`) | IAM `Deny` (always naming the request's own `methodArn`) / `isAuthorized: false` | 403 |
//! | 503 (keys or revocation store unavailable) | another error, logged at `error` | 500 |
//!
//! API Gateway has no way to answer 400 from an authorizer; `Unauthorized` is an error, not a
//! policy, so nothing is cached for it and nothing is granted.
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
//! see below). Paths the layer
//! reads in several ways (percent-encoded, empty or dot segments, a trailing `/`) are refused
//! by that policy, that request included.
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
//! The response `context` holds flat values only: `sub`, `username`, `token_use`, `client_id`,
//! `issuer` (the configured issuer's name), `groups` (comma-separated), `scopes`
//! (space-separated), `route` (the matched pattern; with caching, the one of the request that
//! filled the cache) and `event`.
#![forbid(unsafe_code)]

mod event;
mod iam;

use std::sync::Arc;

use cognito_authz_core::{
    Authorizer, Decision, ErrorKind, RequestTarget, TokenLocation, VerifiedToken,
};
use http::{HeaderMap, StatusCode};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::{Map, Value, json};

pub use event::EventKind;
/// The Lambda runtime the function runs on, so a function needs no other dependency for it.
pub use lambda_runtime;

use event::AuthorizerRequest;
use iam::{MethodArn, PolicyDocument};

/// The principal of answers given without a verified token (a `public` route, no token).
pub const ANONYMOUS_PRINCIPAL: &str = "anonymous";

/// What the IAM policy of a REST answer covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PolicyScope {
    /// The whole route table compiled for the principal: safe with the authorizer cache.
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
        }
    }

    /// What REST policies cover (default [`PolicyScope::Table`]).
    pub fn policy_scope(mut self, scope: PolicyScope) -> Self {
        self.scope = scope;
        self
    }

    /// Declares that the authorizer's result TTL is 0 (API Gateway's cache off), which makes
    /// one-request policies and HTTP API simple responses safe and silences their warning.
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
        let target = RequestTarget::new(&request.path);
        let decision = self
            .authorizer
            .authorize(&request.method, target, &request.headers)
            .await;
        let route = self
            .authorizer
            .routes()
            .matches(&request.method, target)
            .primary()
            .pattern()
            .map(str::to_owned);
        let (allowed, token) = match decision {
            Decision::Allow { token } => (true, token),
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
                StatusCode::FORBIDDEN => (false, self.principal_token(&request).await?),
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
        match request.kind {
            EventKind::HttpApiV2 => Ok(json!({"isAuthorized": allowed, "context": context})),
            EventKind::RestToken | EventKind::RestRequest => {
                let arn = request.arn.as_ref().ok_or_else(|| {
                    AuthorizerError::Internal("REST event without methodArn".to_owned())
                })?;
                let mut document = self.policy(token.as_deref(), arn, allowed, cross_site);
                let own = arn.arn();
                if !allowed && !document.deny.contains(&own) {
                    // Whatever the table grants the principal, never this refused request.
                    document.deny.push(own);
                }
                let principal = token
                    .as_deref()
                    .and_then(VerifiedToken::sub)
                    .unwrap_or(ANONYMOUS_PRINCIPAL);
                Ok(json!({
                    "principalId": principal,
                    "policyDocument": document.to_json(),
                    "context": context,
                }))
            }
        }
    }

    /// The token of a request the policy refused (403), so the cached policy can be written
    /// for its principal. A token that no longer verifies yields the anonymous principal.
    async fn principal_token(
        &self,
        request: &AuthorizerRequest,
    ) -> Result<Option<Arc<VerifiedToken>>, AuthorizerError> {
        let Ok(raw) = self.authorizer.token_source().extract(&request.headers) else {
            return Ok(None);
        };
        match self.authorizer.verifier().verify(raw).await {
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

    /// The answer's policy document. With `cross_site`, the methods the cross-site check
    /// judges are granted only as to a caller without a token.
    fn policy(
        &self,
        token: Option<&VerifiedToken>,
        arn: &MethodArn,
        allowed: bool,
        cross_site: bool,
    ) -> PolicyDocument {
        match self.scope {
            PolicyScope::Request => PolicyDocument::single(arn.arn(), allowed),
            PolicyScope::Table if cross_site && token.is_some() => {
                let source = self.authorizer.token_source();
                let safe = self.compiled(token, arn);
                let anonymous = self.compiled(None, arn);
                // A resource is `{prefix}{METHOD}{glob}`, the glob starting with `/`, `*` or
                // `?`; one whose method cannot be read counts as judged, so it is taken from
                // the anonymous table.
                let prefix = arn.resource("", "");
                let judged = |resource: &String| {
                    resource
                        .strip_prefix(&prefix)
                        .and_then(|rest| rest.split(|c: char| !c.is_ascii_uppercase()).next())
                        .and_then(|method| method.parse::<http::Method>().ok())
                        .is_none_or(|method| source.checks_cross_site(&method))
                };
                PolicyDocument {
                    allow: (safe.allow.into_iter().filter(|r| !judged(r)))
                        .chain(anonymous.allow.into_iter().filter(|r| judged(r)))
                        .collect(),
                    deny: (safe.deny.into_iter().filter(|r| !judged(r)))
                        .chain(anonymous.deny.into_iter().filter(|r| judged(r)))
                        .collect(),
                }
            }
            PolicyScope::Table => self.compiled(token, arn),
        }
    }

    /// The route table compiled for the principal holding `token` (or none), with a warning
    /// naming what IAM wildcards cannot express.
    fn compiled(&self, token: Option<&VerifiedToken>, arn: &MethodArn) -> PolicyDocument {
        let compiled = iam::compile(&self.authorizer.routes(), token, arn);
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
        compiled.document
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
        put("groups", Some(&token.groups().join(",")));
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
