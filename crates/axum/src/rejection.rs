//! Why an extractor or a policy guard refused a request, as an axum response.
//!
//! The 401 and 403 answers are the ones the layer sends (realm included), so a client cannot
//! tell whether the layer or an extractor refused it. The rules live in the core's
//! [`Rejection`](cognito_authz_core::Rejection); this type only makes it a response.

use std::fmt;

use axum_core::body::Body;
use axum_core::response::{IntoResponse, Response};
use cognito_authz_core::RejectionKind;

use crate::Rejection;
use http::header::{CONTENT_TYPE, HeaderValue};

const MISSING_LAYER: &str = "cognito-authz: no authorization layer ran for this request. Add \
`cognito_authz_axum::AuthzLayer` to the router (`Router::layer`) or to this route \
(`route_layer(cognito_authz_axum::require(&authorizer, \"...\")?)`) before using \
cognito-authz extractors or policy guards.";

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.kind() {
            RejectionKind::MissingMiddleware => f.write_str(MISSING_LAYER),
            _ => self.0.fmt(f),
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        if let Some(response) = self.0.response() {
            return response.into_response::<Body>();
        }
        // A wiring bug: say what to add (the rejection was logged at `error` when made).
        let mut response = Response::new(Body::from(self.to_string()));
        *response.status_mut() = self.0.status();
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    }
}
