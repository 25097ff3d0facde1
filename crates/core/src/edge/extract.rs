//! What the adapters' extractors and policy guards share: from what the layer or middleware
//! left on a request ([`RequestAuth`]) to the verified token, typed claims or a guard's
//! decision, or a [`Rejection`].
//!
//! An adapter only reads its framework's request extensions and turns a `Rejection` into its
//! framework's response; the rules (which status, which denial, what is logged) live here, so
//! axum and actix-web answer the same request with the same bytes.

use std::any::type_name;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use http::StatusCode;
use serde::de::DeserializeOwned;

use crate::authorizer::Denial;
use crate::edge::response::DenialResponse;
use crate::error::ErrorKind;
use crate::policy::guard::{GuardError, PolicyGuard};
use crate::verify::claims::{TokenUse, VerifiedToken};

/// What the authorization layer (or middleware) left on a request it let through: the
/// verified token, if any, and the realm of the challenges; plus the route, for logs.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestAuth<'a> {
    token: Option<&'a Arc<VerifiedToken>>,
    realm: Option<&'a str>,
    route: RouteName<'a>,
}

/// The route a refusal is logged under: known, or worked out only when something is refused
/// (a framework may have to build the pattern's text, which an admitted request never needs).
#[derive(Clone, Copy, Default)]
enum RouteName<'a> {
    #[default]
    Unknown,
    Known(&'a str),
    Lazy(&'a (dyn Fn() -> Option<String> + 'a)),
}

impl RouteName<'_> {
    fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Self::Unknown => None,
            Self::Known(route) => Some(Cow::Borrowed(route)),
            Self::Lazy(route) => route().map(Cow::Owned),
        }
    }
}

impl fmt::Debug for RouteName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown => f.write_str("None"),
            Self::Known(route) => write!(f, "Some({route:?})"),
            Self::Lazy(_) => f.write_str("(on refusal)"),
        }
    }
}

impl<'a> RequestAuth<'a> {
    /// The layer ran: `token` is the verified token (none on a public route without one).
    pub fn new(token: Option<&'a Arc<VerifiedToken>>, realm: Option<&'a str>) -> Self {
        Self {
            token,
            realm,
            route: RouteName::Unknown,
        }
    }

    /// The route pattern the framework matched, named in logs.
    #[must_use]
    pub fn on_route(mut self, route: Option<&'a str>) -> Self {
        self.route = route.map_or(RouteName::Unknown, RouteName::Known);
        self
    }

    /// The route pattern the framework matched, asked of `route` only if the request is
    /// refused (for a framework where naming the pattern costs an allocation).
    #[must_use]
    pub fn on_route_lazily(mut self, route: &'a (dyn Fn() -> Option<String> + 'a)) -> Self {
        self.route = RouteName::Lazy(route);
        self
    }

    /// The verified token, if the request had one.
    pub fn token(&self) -> Option<&'a Arc<VerifiedToken>> {
        self.token
    }

    /// The verified token, for an extractor that needs one.
    ///
    /// # Errors
    /// 401 `missing_token` when the request had none (a public route).
    pub fn required(&self, extractor: &'static str) -> Result<&'a Arc<VerifiedToken>, Rejection> {
        self.token.ok_or_else(|| {
            self.deny(
                RejectionKind::MissingToken,
                extractor,
                Denial::new(
                    ErrorKind::MissingToken,
                    format!("`{extractor}` needs a token and the request has none"),
                ),
            )
        })
    }

    /// The verified token if it is an id token (`TokenUse::Id`) or an access token, as
    /// `wanted`.
    ///
    /// # Errors
    /// 401 without a token; 403 `forbidden` for a token of the other kind, as the policy
    /// `token_use:id` (or `:access`) would answer.
    pub fn of_use(
        &self,
        extractor: &'static str,
        wanted: TokenUse,
    ) -> Result<&'a Arc<VerifiedToken>, Rejection> {
        let token = self.required(extractor)?;
        if token.token_use() == Some(wanted) {
            return Ok(token);
        }
        Err(self.deny(
            RejectionKind::WrongTokenUse,
            extractor,
            Denial::new(
                ErrorKind::Forbidden,
                format!("`{extractor}` needs token_use {wanted}"),
            ),
        ))
    }

    /// `token`'s claims as `T` (decoded once per token and type).
    ///
    /// # Errors
    /// 403 `forbidden` when the claims do not fit `T`; the log names the type and what kind of
    /// mismatch, never the claims' values.
    pub fn claims<T>(
        &self,
        extractor: &'static str,
        token: &VerifiedToken,
    ) -> Result<Arc<T>, Rejection>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        token.shared_claims::<T>().map_err(|error| {
            // serde's message can quote the token's values: keep only the type and category.
            let category = match error.classify() {
                serde_json::error::Category::Io => "io",
                serde_json::error::Category::Syntax => "syntax",
                serde_json::error::Category::Data => "data",
                serde_json::error::Category::Eof => "eof",
            };
            self.deny(
                RejectionKind::InvalidClaims,
                extractor,
                Denial::new(
                    ErrorKind::Forbidden,
                    format!(
                        "the token's claims do not fit `{}` ({category} error at column {})",
                        type_name::<T>(),
                        error.column()
                    ),
                ),
            )
        })
    }

    /// The token's claims as `T` when the request has a token, `None` when it has none.
    ///
    /// # Errors
    /// As [`RequestAuth::claims`].
    pub fn optional_claims<T>(&self, extractor: &'static str) -> Result<Option<Arc<T>>, Rejection>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        self.token
            .map(|token| self.claims(extractor, token))
            .transpose()
    }

    /// What the guard `G` says about this request.
    ///
    /// # Errors
    /// 500 when the guard's expression cannot be used; for any policy but `public`, 401
    /// without a token; 403 `insufficient_scope` (with the scopes that would allow it) or
    /// `forbidden` when the policy denies.
    pub fn guard<G: PolicyGuard>(&self) -> Result<(), Rejection> {
        let guard = type_name::<G>();
        let policy = G::policy().map_err(|error| {
            tracing::error!(%error, "invalid policy guard");
            Rejection(Box::new(Parts {
                kind: RejectionKind::InvalidPolicy,
                extractor: guard,
                denial: None,
                guard_error: Some(error.clone()),
            }))
        })?;
        if policy.is_public() {
            return Ok(());
        }
        let token = self.required(guard)?;
        match Denial::of_policy(policy, token) {
            None => Ok(()),
            Some(denial) => Err(self.deny(RejectionKind::Denied, guard, denial)),
        }
    }

    /// A refusal with `denial` in this request's realm, logged at `debug`.
    fn deny(&self, kind: RejectionKind, extractor: &'static str, denial: Denial) -> Rejection {
        let route = self.route.text();
        let denial = denial
            .on_route(route.as_deref().map(Arc::from))
            .in_realm(self.realm.map(Arc::from));
        tracing::debug!(
            code = denial.code(),
            extractor,
            route = route.as_deref().unwrap_or("<unmatched>"),
            policy = denial.policy(),
            reason = %denial.reason(),
            "request denied by an extractor"
        );
        Rejection(Box::new(Parts {
            kind,
            extractor,
            denial: Some(denial),
            guard_error: None,
        }))
    }
}

/// Why an extractor or a policy guard refused a request. Both adapters wrap it in their
/// framework's response type under the same name.
///
/// The denials answer exactly as the layer would (same status, challenge and body, realm
/// included), so a client cannot tell which refused it; the two wiring bugs answer 500.
#[derive(Debug, Clone)]
pub struct Rejection(Box<Parts>);

/// What a [`Rejection`] holds (boxed: a refusal is the rare path, and a small `Err` keeps the
/// extractors' results small).
#[derive(Debug, Clone)]
struct Parts {
    kind: RejectionKind,
    extractor: &'static str,
    denial: Option<Denial>,
    guard_error: Option<GuardError>,
}

/// What kind of [`Rejection`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectionKind {
    /// No authorization layer or middleware ran for this request: a wiring bug (500, with a
    /// body that says what to add).
    MissingMiddleware,
    /// The extractor needs a token and the request has none (a public route): 401.
    MissingToken,
    /// An id-token or access-token extractor got a token of the other kind: 403 `forbidden`.
    WrongTokenUse,
    /// The claims do not fit the requested type: 403 `forbidden`.
    InvalidClaims,
    /// A policy guard denied the request: 403 `insufficient_scope` or `forbidden`.
    Denied,
    /// A policy guard's expression does not parse or compile (500); check guards when the app
    /// is built to make this a start-up error.
    InvalidPolicy,
}

impl Rejection {
    /// No authorization layer or middleware ran before `extractor`.
    pub fn missing_middleware(extractor: &'static str) -> Self {
        tracing::error!(
            extractor,
            "no cognito-authz layer or middleware ran for this request"
        );
        Self(Box::new(Parts {
            kind: RejectionKind::MissingMiddleware,
            extractor,
            denial: None,
            guard_error: None,
        }))
    }

    /// What kind of refusal.
    pub fn kind(&self) -> RejectionKind {
        self.0.kind
    }

    /// The extractor or guard type that refused.
    pub fn extractor(&self) -> &'static str {
        self.0.extractor
    }

    /// The HTTP status: the denial's, or 500 for the wiring bugs.
    pub fn status(&self) -> StatusCode {
        self.0
            .denial
            .as_ref()
            .map_or(StatusCode::INTERNAL_SERVER_ERROR, Denial::status)
    }

    /// The error kind of a denial (`None` for the 500s).
    pub fn error_kind(&self) -> Option<ErrorKind> {
        self.0.denial.as_ref().map(Denial::kind)
    }

    /// The denial (`None` for the 500s).
    pub fn denial(&self) -> Option<&Denial> {
        self.0.denial.as_ref()
    }

    /// The response of a denial, byte-identical to the layer's (`None` for the 500s, whose
    /// body is the adapter's instruction text).
    pub fn response(&self) -> Option<DenialResponse> {
        self.0.denial.as_ref().map(Denial::response)
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.0.denial, &self.0.guard_error) {
            (Some(denial), _) => write!(f, "{}: {}", denial.code(), denial.reason()),
            (None, Some(error)) => write!(f, "cognito-authz: {error}"),
            (None, None) => write!(
                f,
                "cognito-authz: no authorization layer or middleware ran before the `{}` extractor",
                self.0.extractor
            ),
        }
    }
}

impl std::error::Error for Rejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .guard_error
            .as_ref()
            .map(|error| error as &(dyn std::error::Error + 'static))
    }
}
