//! Why an extractor refused a request: small structs with a status and a response, grouped in
//! [`AuthzRejection`] (the axum-core style).
//!
//! The 401 and 403 answers are the ones the layer sends (realm included), so a
//! client cannot tell whether the layer or an extractor refused it.

use std::fmt;
use std::sync::Arc;

use axum_core::body::Body;
use axum_core::response::{IntoResponse, Response};
use cognito_authz_core::{DenialResponse, ErrorKind, TokenUse};
use cognito_authz_tower::Realm;
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue};

/// The text of a [`MissingLayer`] rejection.
const MISSING_LAYER: &str = "cognito-authz: no authorization layer ran for this request. Add \
`cognito_authz_axum::AuthzLayer` to the router (`Router::layer`) or to this route \
(`route_layer(cognito_authz_axum::require(&authorizer, \"...\")?)`) before using \
cognito-authz extractors or policy guards.";

fn denial(kind: ErrorKind, scopes: &[String], realm: Option<&Realm>) -> Response {
    DenialResponse::new(kind, scopes, realm.map(Realm::as_str)).into_response::<Body>()
}

fn plain_text(status: StatusCode, text: String) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// No cognito-authz layer ran before the extractor: a wiring bug, answered with 500 and a
/// message that says which layer to add.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MissingLayer;

impl MissingLayer {
    /// 500 Internal Server Error.
    pub fn status(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    /// The response body.
    pub fn body_text(&self) -> String {
        MISSING_LAYER.to_owned()
    }
}

impl fmt::Display for MissingLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MISSING_LAYER)
    }
}

impl std::error::Error for MissingLayer {}

impl IntoResponse for MissingLayer {
    fn into_response(self) -> Response {
        tracing::error!("{MISSING_LAYER}");
        plain_text(self.status(), self.body_text())
    }
}

/// The route let the request through without a token (a `public` route) but the handler
/// needs one: 401 with the plain `Bearer` challenge, as for `missing_token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingToken {
    pub(crate) realm: Option<Realm>,
}

impl MissingToken {
    /// 401 Unauthorized.
    pub fn status(&self) -> StatusCode {
        StatusCode::UNAUTHORIZED
    }
}

impl fmt::Display for MissingToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no verified token for an extractor that needs one")
    }
}

impl std::error::Error for MissingToken {}

impl IntoResponse for MissingToken {
    fn into_response(self) -> Response {
        denial(ErrorKind::MissingToken, &[], self.realm.as_ref())
    }
}

/// The verified token's payload does not deserialize into the handler's claims type (a
/// required member is missing or has another type): 403 `forbidden`, since the token is
/// valid but does not carry what this handler needs.
///
/// The log event (at `debug`) names the type and serde's error category, never the token's
/// content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidClaims {
    pub(crate) type_name: &'static str,
    pub(crate) category: &'static str,
    pub(crate) realm: Option<Realm>,
}

impl InvalidClaims {
    /// 403 Forbidden.
    pub fn status(&self) -> StatusCode {
        StatusCode::FORBIDDEN
    }

    /// The claims type that did not fit.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }
}

impl fmt::Display for InvalidClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the token's claims do not fit `{}` ({} error)",
            self.type_name, self.category
        )
    }
}

impl std::error::Error for InvalidClaims {}

impl IntoResponse for InvalidClaims {
    fn into_response(self) -> Response {
        denial(ErrorKind::Forbidden, &[], self.realm.as_ref())
    }
}

/// An [`IdToken`](crate::IdToken) or [`AccessToken`](crate::AccessToken) extractor got the
/// other kind of token: 403 `forbidden`, as the policy `token_use:id` / `token_use:access`
/// would answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrongTokenUse {
    pub(crate) expected: TokenUse,
    pub(crate) realm: Option<Realm>,
}

impl WrongTokenUse {
    /// 403 Forbidden.
    pub fn status(&self) -> StatusCode {
        StatusCode::FORBIDDEN
    }

    /// The kind the extractor wanted.
    pub fn expected(&self) -> TokenUse {
        self.expected
    }
}

impl fmt::Display for WrongTokenUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the handler needs an {} token", self.expected)
    }
}

impl std::error::Error for WrongTokenUse {}

impl IntoResponse for WrongTokenUse {
    fn into_response(self) -> Response {
        denial(ErrorKind::Forbidden, &[], self.realm.as_ref())
    }
}

/// A policy guard's expression denied the token: 403 with `insufficient_scope` (and the
/// `scope="…"` list) when scopes alone would allow it, `forbidden` otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDenied {
    pub(crate) guard: &'static str,
    pub(crate) kind: ErrorKind,
    pub(crate) scopes: Arc<[String]>,
    pub(crate) realm: Option<Realm>,
}

impl PolicyDenied {
    /// 403 Forbidden.
    pub fn status(&self) -> StatusCode {
        StatusCode::FORBIDDEN
    }

    /// `insufficient_scope` or `forbidden`.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The scopes of the `insufficient_scope` challenge (empty for `forbidden`).
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The guard type that denied.
    pub fn guard(&self) -> &'static str {
        self.guard
    }
}

impl fmt::Display for PolicyDenied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "policy guard {} denied: {}",
            self.guard,
            self.kind.code()
        )
    }
}

impl std::error::Error for PolicyDenied {}

impl IntoResponse for PolicyDenied {
    fn into_response(self) -> Response {
        denial(self.kind, &self.scopes, self.realm.as_ref())
    }
}

/// A policy guard whose expression does not parse or compile: 500 (a programming error; call
/// [`PolicyGuard::validate`](crate::PolicyGuard::validate) at start-up or in a test to catch
/// it before serving).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidGuard {
    pub(crate) guard: &'static str,
    pub(crate) expression: &'static str,
    pub(crate) message: String,
}

impl InvalidGuard {
    /// 500 Internal Server Error.
    pub fn status(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    /// The guard type.
    pub fn guard(&self) -> &'static str {
        self.guard
    }

    /// The expression as written.
    pub fn expression(&self) -> &'static str {
        self.expression
    }

    /// What is wrong with it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for InvalidGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cognito-authz: policy guard {} has an invalid expression `{}`: {}",
            self.guard, self.expression, self.message
        )
    }
}

impl std::error::Error for InvalidGuard {}

impl IntoResponse for InvalidGuard {
    fn into_response(self) -> Response {
        let text = self.to_string();
        tracing::error!("{text}");
        plain_text(self.status(), text)
    }
}

/// Every way a cognito-authz extractor or guard can refuse a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthzRejection {
    /// No layer ran (500).
    MissingLayer(MissingLayer),
    /// No token on a route that let the request through without one (401).
    MissingToken(MissingToken),
    /// The payload does not fit the claims type (403).
    InvalidClaims(InvalidClaims),
    /// An id token where an access token is needed, or the reverse (403).
    WrongTokenUse(WrongTokenUse),
    /// A policy guard denied (403).
    PolicyDenied(PolicyDenied),
    /// A policy guard's expression is invalid (500).
    InvalidGuard(InvalidGuard),
}

impl AuthzRejection {
    /// The status of the response.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingLayer(inner) => inner.status(),
            Self::MissingToken(inner) => inner.status(),
            Self::InvalidClaims(inner) => inner.status(),
            Self::WrongTokenUse(inner) => inner.status(),
            Self::PolicyDenied(inner) => inner.status(),
            Self::InvalidGuard(inner) => inner.status(),
        }
    }
}

impl fmt::Display for AuthzRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingLayer(inner) => inner.fmt(f),
            Self::MissingToken(inner) => inner.fmt(f),
            Self::InvalidClaims(inner) => inner.fmt(f),
            Self::WrongTokenUse(inner) => inner.fmt(f),
            Self::PolicyDenied(inner) => inner.fmt(f),
            Self::InvalidGuard(inner) => inner.fmt(f),
        }
    }
}

impl std::error::Error for AuthzRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::MissingLayer(inner) => Some(inner),
            Self::MissingToken(inner) => Some(inner),
            Self::InvalidClaims(inner) => Some(inner),
            Self::WrongTokenUse(inner) => Some(inner),
            Self::PolicyDenied(inner) => Some(inner),
            Self::InvalidGuard(inner) => Some(inner),
        }
    }
}

impl IntoResponse for AuthzRejection {
    fn into_response(self) -> Response {
        match self {
            Self::MissingLayer(inner) => inner.into_response(),
            Self::MissingToken(inner) => inner.into_response(),
            Self::InvalidClaims(inner) => inner.into_response(),
            Self::WrongTokenUse(inner) => inner.into_response(),
            Self::PolicyDenied(inner) => inner.into_response(),
            Self::InvalidGuard(inner) => inner.into_response(),
        }
    }
}

macro_rules! from_variant {
    ($($name:ident),*) => {$(
        impl From<$name> for AuthzRejection {
            fn from(inner: $name) -> Self {
                Self::$name(inner)
            }
        }
    )*};
}

from_variant!(
    MissingLayer,
    MissingToken,
    InvalidClaims,
    WrongTokenUse,
    PolicyDenied,
    InvalidGuard
);
