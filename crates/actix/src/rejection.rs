//! Why an extractor refused a request, and the response it sends.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use cognito_authz_core::{DenialResponse, ErrorKind};

use crate::response::http_response;

/// An extractor's refusal. Each variant knows its status and response; a denial answers
/// with the same bytes as the middleware (see `docs/responses.md`).
///
/// Take `Result<Claims, Rejection>` (or any other extractor) in a handler to see it instead
/// of answering at once.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Rejection {
    /// No [`CognitoAuth`](crate::CognitoAuth) middleware ran for this request (500).
    MissingMiddleware(MissingMiddleware),
    /// Refused with the documented response: 401 without a token, 403 for a policy guard, a token of
    /// the other kind or claims that do not fit the requested type.
    Denied(Denied),
    /// A policy guard's expression does not parse or compile (500).
    InvalidPolicy(InvalidPolicy),
}

impl Rejection {
    /// The HTTP status of the response.
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::MissingMiddleware(rejection) => rejection.status(),
            Rejection::Denied(rejection) => rejection.status(),
            Rejection::InvalidPolicy(rejection) => rejection.status(),
        }
    }

    /// The error kind of a denial (`None` for the 500s, which are wiring bugs).
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            Rejection::Denied(rejection) => Some(rejection.kind()),
            _ => None,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::MissingMiddleware(rejection) => rejection.fmt(f),
            Rejection::Denied(rejection) => rejection.fmt(f),
            Rejection::InvalidPolicy(rejection) => rejection.fmt(f),
        }
    }
}

impl std::error::Error for Rejection {}

impl ResponseError for Rejection {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Rejection::MissingMiddleware(rejection) => rejection.error_response(),
            Rejection::Denied(rejection) => rejection.error_response(),
            Rejection::InvalidPolicy(rejection) => rejection.error_response(),
        }
    }
}

/// An extractor ran on a request no [`CognitoAuth`](crate::CognitoAuth) middleware saw: a
/// wiring bug, answered with 500 and a body that says what to add.
#[derive(Debug, Clone)]
pub struct MissingMiddleware {
    extractor: &'static str,
}

impl MissingMiddleware {
    pub(crate) fn new(extractor: &'static str) -> Self {
        Self { extractor }
    }

    /// The extractor that found no middleware (`"Claims"`, `"Require"`, …).
    pub fn extractor(&self) -> &'static str {
        self.extractor
    }

    /// 500.
    pub fn status(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

impl fmt::Display for MissingMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cognito-authz: the `{}` extractor needs the CognitoAuth middleware: add \
             `.wrap(cognito_authz_actix::CognitoAuth::new(authorizer))` to the App, or \
             `.wrap(cognito_authz_actix::CognitoAuth::require(&authorizer, \"authenticated\")?)` \
             to the scope or resource of this route",
            self.extractor
        )
    }
}

impl ResponseError for MissingMiddleware {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        text_response(self.status(), self.to_string())
    }
}

/// A request refused with the middleware's response (401 or 403).
#[derive(Debug, Clone)]
pub struct Denied {
    kind: ErrorKind,
    response: DenialResponse,
    reason: String,
}

impl Denied {
    pub(crate) fn new(kind: ErrorKind, response: DenialResponse, reason: String) -> Self {
        Self {
            kind,
            response,
            reason,
        }
    }

    /// The error kind (`missing_token`, `insufficient_scope`, `forbidden`).
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// What failed, for logs (never token content).
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The core response this rejection sends.
    pub fn response(&self) -> &DenialResponse {
        &self.response
    }

    /// 401 or 403.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.response.status().as_u16())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.reason)
    }
}

impl ResponseError for Denied {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        http_response(&self.response)
    }
}

/// A policy guard whose expression cannot be used: a bug in the program, answered with 500.
/// Call [`PolicyExpression::check`](crate::PolicyExpression::check) at start-up to find it
/// before serving.
#[derive(Debug, Clone)]
pub struct InvalidPolicy {
    message: String,
}

impl InvalidPolicy {
    pub(crate) fn new(message: String) -> Self {
        Self { message }
    }

    /// 500.
    pub fn status(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

impl fmt::Display for InvalidPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cognito-authz: invalid policy guard: {}", self.message)
    }
}

impl ResponseError for InvalidPolicy {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        text_response(self.status(), self.to_string())
    }
}

fn text_response(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        ))
        .body(body)
}
