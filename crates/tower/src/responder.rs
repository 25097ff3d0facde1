//! Turning a [`Denial`] into the HTTP response the client gets.

use cognito_authz_core::Denial;
use http::Response;

/// Builds the response for a denied request; replace the default to send your own bodies.
///
/// Implemented by [`DefaultResponder`] and by any `Fn(&Denial) -> Response<B>`. Keep the
/// status and `WWW-Authenticate` of [`Denial::response`] unless you mean to change the
/// contract with clients.
///
/// # Example
///
/// ```
/// use cognito_authz_core::Denial;
/// use cognito_authz_tower::{AuthzLayer, Responder};
/// use http::Response;
///
/// /// Plain-text bodies, same status and headers.
/// #[derive(Clone)]
/// struct PlainText;
///
/// impl Responder<String> for PlainText {
///     fn respond(&self, denial: &Denial) -> Response<String> {
///         let mut response = denial.response().into_response::<String>();
///         *response.body_mut() = format!("denied: {}", denial.code());
///         response
///             .headers_mut()
///             .insert("content-type", "text/plain".parse().expect("static value"));
///         response
///     }
/// }
/// # fn layer(authorizer: cognito_authz_core::Authorizer) -> AuthzLayer<PlainText> {
/// AuthzLayer::new(authorizer).responder(PlainText)
/// # }
/// ```
pub trait Responder<B> {
    /// The response for `denial`.
    fn respond(&self, denial: &Denial) -> Response<B>;
}

/// The documented response (`docs/responses.md`), byte for byte: [`Denial::response`] with its JSON
/// body, for any body type that can be made from a `&'static str`.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultResponder;

impl<B: From<&'static str>> Responder<B> for DefaultResponder {
    fn respond(&self, denial: &Denial) -> Response<B> {
        denial.response().into_response()
    }
}

impl<B, F> Responder<B> for F
where
    F: Fn(&Denial) -> Response<B>,
{
    fn respond(&self, denial: &Denial) -> Response<B> {
        self(denial)
    }
}
