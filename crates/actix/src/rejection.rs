//! Why an extractor or a policy guard refused a request, as an actix-web response.
//!
//! The rules live in the core's [`Rejection`](cognito_authz_core::Rejection); this type only
//! makes it a response.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use cognito_authz_core::RejectionKind;

use crate::Rejection;

use crate::response::http_response;

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.kind() {
            RejectionKind::MissingMiddleware => write!(
                f,
                "cognito-authz: the `{}` extractor needs the CognitoAuth middleware: add \
                 `.wrap(cognito_authz_actix::CognitoAuth::new(authorizer))` to the App, or \
                 `.wrap(cognito_authz_actix::require(&authorizer, \"authenticated\")?)` \
                 to the scope or resource of this route",
                self.0.extractor()
            ),
            _ => self.0.fmt(f),
        }
    }
}

impl ResponseError for Rejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(response) = self.0.response() {
            return http_response(&response);
        }
        // A wiring bug: say what to add (the rejection was logged at `error` when made).
        HttpResponse::build(self.status_code())
            .insert_header((
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ))
            .body(self.to_string())
    }
}
