//! Turning the core's [`DenialResponse`] into an actix-web [`HttpResponse`], and the replaceable
//! [`DenialResponder`] the middleware answers denials with.
//!
//! Every response this crate sends for a denial, from the middleware or an extractor, is built
//! by [`http_response`] from the core's [`DenialResponse`], so the tower and actix adapters
//! cannot drift apart (`docs/responses.md` lists every answer).

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use cognito_authz_core::{Denial, DenialResponse};

/// Copies a core [`DenialResponse`] (status, every header, body) into an actix-web response.
///
/// actix-web 4 uses the `http` 0.2 types and the core `http` 1.x; names, values and the status
/// are copied byte for byte.
///
/// # Example
///
/// ```
/// use cognito_authz_actix::http_response;
/// use cognito_authz_core::{DenialResponse, ErrorKind};
///
/// let response = http_response(&DenialResponse::new(ErrorKind::MissingToken, &[], None));
/// assert_eq!(response.status(), 401);
/// assert_eq!(response.headers().get("www-authenticate").unwrap(), "Bearer");
/// assert_eq!(response.headers().get("content-type").unwrap(), "application/json");
/// ```
pub fn http_response(response: &DenialResponse) -> HttpResponse {
    let status = StatusCode::from_u16(response.status().as_u16())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    for (name, value) in response.headers() {
        // Both sides accept exactly the same bytes, so neither conversion can fail; a header
        // that somehow did not convert is left out rather than answering with a panic.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            builder.append_header((name, value));
        }
    }
    builder.body(response.body())
}

/// Builds the response for a request the middleware refused; replace it with
/// [`CognitoAuth::responder`](crate::CognitoAuth::responder) to change bodies or add headers.
///
/// The default, [`DefaultResponder`], sends [`Denial::response`] unchanged. Any
/// `Fn(&Denial, &HttpRequest) -> HttpResponse + Send + Sync + 'static` is a responder too.
///
/// Extractor rejections (a policy guard's 403, `Claims` without a token) do not go through the
/// responder: they are [`Rejection`](crate::Rejection)s whose responses are the same bytes;
/// change them with actix-web's `ErrorHandlers` middleware or by taking
/// `Result<Extractor, Rejection>` in the handler.
///
/// # Example
///
/// ```
/// use actix_web::{HttpRequest, HttpResponse};
/// use cognito_authz_actix::{DenialResponder, http_response};
/// use cognito_authz_core::Denial;
///
/// /// The contract response plus a header naming the error code.
/// struct WithCode;
///
/// impl DenialResponder for WithCode {
///     fn respond(&self, denial: &Denial, _request: &HttpRequest) -> HttpResponse {
///         let mut response = http_response(&denial.response());
///         if let Ok(value) = denial.code().parse() {
///             response.headers_mut().insert(
///                 actix_web::http::header::HeaderName::from_static("x-authz-error"),
///                 value,
///             );
///         }
///         response
///     }
/// }
/// ```
pub trait DenialResponder: Send + Sync + 'static {
    /// The response to send instead of calling the handler.
    fn respond(&self, denial: &Denial, request: &HttpRequest) -> HttpResponse;
}

/// The default responder: exactly [`Denial::response`]: the status, challenge and JSON body
/// listed in `docs/responses.md`.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultResponder;

impl DenialResponder for DefaultResponder {
    fn respond(&self, denial: &Denial, _request: &HttpRequest) -> HttpResponse {
        http_response(&denial.response())
    }
}

impl<F> DenialResponder for F
where
    F: Fn(&Denial, &HttpRequest) -> HttpResponse + Send + Sync + 'static,
{
    fn respond(&self, denial: &Denial, request: &HttpRequest) -> HttpResponse {
        self(denial, request)
    }
}

/// Shows the responder's type name, since trait objects have no `Debug`.
pub(crate) struct ResponderName(pub(crate) &'static str);

impl fmt::Debug for ResponderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use cognito_authz_core::ErrorKind;

    use super::*;

    #[test]
    fn every_kind_converts_byte_for_byte() {
        let scopes = ["api/read".to_owned(), "api/write".to_owned()];
        for realm in [None, Some("my api")] {
            for kind in ErrorKind::ALL {
                let core = DenialResponse::new(kind, &scopes, realm);
                let actix = http_response(&core);
                assert_eq!(actix.status().as_u16(), core.status().as_u16(), "{kind}");
                assert_eq!(actix.headers().len(), core.headers().len(), "{kind}");
                for (name, value) in core.headers() {
                    let got: Vec<&[u8]> = actix
                        .headers()
                        .get_all(name.as_str())
                        .map(HeaderValue::as_bytes)
                        .collect();
                    assert_eq!(got, [value.as_bytes()], "{kind} {name}");
                }
                let body = actix_web::body::to_bytes(actix.into_body());
                let body = futures_util::FutureExt::now_or_never(body)
                    .and_then(Result::ok)
                    .map(|bytes| bytes.to_vec());
                assert_eq!(body.as_deref(), Some(core.body().as_bytes()), "{kind}");
            }
        }
    }
}
