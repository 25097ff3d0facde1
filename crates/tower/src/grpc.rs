//! gRPC denials (feature `tonic`): every denial becomes the gRPC status its HTTP status means,
//! so every gRPC client library reads the same code.
//!
//! | denial | HTTP status | gRPC status | `grpc-message` |
//! |---|---|---|---|
//! | no token, invalid token | 401 | `UNAUTHENTICATED` (16) | the error code: `missing_token`, `expired`, … |
//! | policy denial | 403 | `PERMISSION_DENIED` (7) | `insufficient_scope` or `forbidden` |
//! | two tokens, two `authorization` entries | 400 | `INVALID_ARGUMENT` (3) | `invalid_request` |
//! | signing keys unavailable | 503 | `UNAVAILABLE` (14) | `jwks_unavailable` |
//!
//! The answer is a trailers-only gRPC response (HTTP 200, `content-type: application/grpc`,
//! `grpc-status` and `grpc-message` in the headers, no body), which is what
//! [`tonic::Status::into_http`] builds. The `WWW-Authenticate` challenge travels as the
//! `www-authenticate` metadata entry and `Retry-After` as `retry-after`: read them with
//! [`tonic::Status::metadata`]. The message is always the fixed error code, never anything
//! from the token.
//!
//! A plain JSON 401 would not do: HTTP/2 gRPC clients disagree about a non-gRPC answer (tonic
//! tries to read the JSON as a gRPC frame and reports `INTERNAL`, gRPC C-core maps the HTTP
//! status), so the same denial would reach different clients as different codes.

use cognito_authz_core::{Authorizer, Denial};
use http::Response;
use http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Status};

use crate::layer::AuthzLayer;
use crate::responder::Responder;

/// Answers denials as gRPC statuses (trailers-only): 401 → `UNAUTHENTICATED`, 403 →
/// `PERMISSION_DENIED`, 400 → `INVALID_ARGUMENT`, 503 → `UNAVAILABLE`, the error code as
/// `grpc-message` (see [`grpc_status`]). Use it through [`AuthzLayer::grpc`], or `AuthzLayer::new(a).responder(GrpcResponder)`.
///
/// Works with any response body that has an empty [`Default`], tonic's
/// [`Body`](tonic::body::Body) among them. For gRPC services only: a plain HTTP client would
/// read the trailers-only answer as an empty `200 OK` (the handler still never runs).
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcResponder;

impl<B: Default> Responder<B> for GrpcResponder {
    fn respond(&self, denial: &Denial) -> Response<B> {
        grpc_status(denial).into_http()
    }
}

/// The gRPC status for `denial`: its code from the denial's HTTP status, the error code as the
/// message, and the `WWW-Authenticate` challenge (or `Retry-After`) as metadata.
///
/// ```
/// # use cognito_authz_core::{AcceptedTokenUse, Authorizer, Decision, Policy};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// # let issuer = cognito_authz_testkit::LocalIssuer::offline();
/// # let verifier = issuer.verifier_builder(AcceptedTokenUse::Any).build().unwrap();
/// # let authorizer = Authorizer::builder().verifier(verifier).unmatched(Policy::authenticated()).build().unwrap();
/// let decision = authorizer
///     .authorize(&http::Method::POST, "/pkg.Service/Method", &http::HeaderMap::new())
///     .await;
/// let status = cognito_authz_tower::grpc_status(decision.denial().unwrap());
/// assert_eq!(status.code(), tonic::Code::Unauthenticated);
/// assert_eq!(status.message(), "missing_token");
/// assert_eq!(status.metadata().get("www-authenticate").unwrap(), "Bearer");
/// # });
/// ```
pub fn grpc_status(denial: &Denial) -> Status {
    let code = code_for_status(denial.status().as_u16());
    let response = denial.response();
    let mut metadata = MetadataMap::new();
    for (name, value) in response.headers() {
        let key = if *name == WWW_AUTHENTICATE {
            "www-authenticate"
        } else if *name == RETRY_AFTER {
            "retry-after"
        } else {
            continue;
        };
        // Header values are visible ASCII (fixed texts, policy scopes, the realm): valid ASCII
        // metadata as they stand.
        if let Ok(value) = MetadataValue::try_from(value.as_bytes()) {
            metadata.insert(key, value);
        }
    }
    Status::with_metadata(code, denial.code(), metadata)
}

/// The gRPC code a denial's HTTP status stands for.
fn code_for_status(status: u16) -> Code {
    match status {
        400 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        503 => Code::Unavailable,
        // 403, and anything a later kind of denial might use: still a refusal.
        _ => Code::PermissionDenied,
    }
}

impl AuthzLayer<GrpcResponder> {
    /// A layer for tonic: decides with `authorizer` and answers denials as gRPC statuses
    /// ([`GrpcResponder`]). Put it on the whole server or on one service:
    ///
    /// ```no_run
    /// use cognito_authz_tower::AuthzLayer;
    /// use tonic::{service::LayerExt as _, transport::Server};
    /// # async fn serve(authorizer: cognito_authz_core::Authorizer) -> Result<(), tonic::transport::Error> {
    /// let authz = AuthzLayer::grpc(authorizer);
    /// let (_reporter, health) = tonic_health::server::health_reporter(); // any tonic service
    /// let addr = ([127, 0, 0, 1], 50051).into();
    /// // Every service of the server:
    /// Server::builder().layer(authz.clone()).add_service(health.clone()).serve(addr).await?;
    /// // One service, keeping its name for tonic's router:
    /// Server::builder().add_service(authz.named_layer(health)).serve(addr).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// The policy names methods by their HTTP/2 path, `/package.Service/Method`.
    pub fn grpc(authorizer: Authorizer) -> Self {
        AuthzLayer::new(authorizer).responder(GrpcResponder)
    }
}

#[cfg(test)]
mod tests {
    use cognito_authz_core::ErrorKind;
    use http::HeaderMap;

    use super::*;

    /// The denial for `kind`, made by a real authorizer where possible.
    fn denial_for(headers: &HeaderMap) -> Denial {
        let issuer = cognito_authz_testkit::LocalIssuer::offline();
        let verifier = issuer
            .verifier_builder(cognito_authz_core::AcceptedTokenUse::Any)
            .build()
            .expect("verifier");
        let authorizer = Authorizer::builder()
            .verifier(verifier)
            .unmatched("group:admin".parse().expect("policy"))
            .build()
            .expect("authz");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let decision =
            runtime.block_on(authorizer.authorize(&http::Method::POST, "/a.B/C", headers));
        decision.denial().cloned().expect("a denial")
    }

    #[test]
    fn denials_become_trailers_only_grpc_responses_with_fixed_messages() {
        let mut two = HeaderMap::new();
        two.append("authorization", "Bearer a".parse().expect("value"));
        two.append("authorization", "Bearer b".parse().expect("value"));
        let mut malformed = HeaderMap::new();
        malformed.insert(
            "authorization",
            "Bearer secret.token.text".parse().expect("value"),
        );
        let cases = [
            (HeaderMap::new(), "16", "missing_token", Some("Bearer")),
            (
                malformed,
                "16",
                "malformed_token",
                Some(r#"Bearer error="invalid_token", error_description="malformed token""#),
            ),
            (
                two,
                "3",
                "invalid_request",
                Some(r#"Bearer error="invalid_request""#),
            ),
        ];
        for (headers, status, message, challenge) in cases {
            let denial = denial_for(&headers);
            let response: Response<tonic::body::Body> = GrpcResponder.respond(&denial);
            assert_eq!(response.status(), 200, "{message}");
            assert_eq!(response.headers()["content-type"], "application/grpc");
            assert_eq!(response.headers()["grpc-status"], status, "{message}");
            assert_eq!(response.headers()["grpc-message"], message);
            assert_eq!(
                response
                    .headers()
                    .get("www-authenticate")
                    .map(|v| v.to_str().expect("ascii")),
                challenge
            );
            let all = format!("{:?}", response.headers());
            assert!(!all.contains("secret"), "token text leaked: {all}");
        }
    }

    #[test]
    fn every_error_kind_maps_to_the_grpc_code_of_its_http_status() {
        for kind in ErrorKind::ALL {
            let expected = match kind.status().as_u16() {
                400 => Code::InvalidArgument,
                401 => Code::Unauthenticated,
                403 => Code::PermissionDenied,
                503 => Code::Unavailable,
                other => panic!("{kind}: unexpected status {other}"),
            };
            assert_eq!(code_for_status(kind.status().as_u16()), expected, "{kind}");
        }
    }
}
