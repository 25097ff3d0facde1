//! The [`CognitoAuth`] middleware: reads the token, verifies it, applies the route's policy
//! (a whole route table at `App::wrap`, or one policy on a `scope`/`resource`), and puts the
//! verified token into the request extensions for the extractors.

use std::future::{Ready, ready};
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{HeaderMap, HeaderName as ActixHeaderName};
use actix_web::{Error, HttpMessage as _, HttpResponse};
use cognito_authz_core::{
    Authorizer, Decision, Denial, DenialResponse, ErrorKind, GuardError, HeaderLookup,
    RequestTarget,
};
use futures_util::TryFutureExt as _;
use futures_util::future::{Either, LocalBoxFuture, MapOk};

use crate::response::{DefaultResponder, DenialResponder, ResponderName, http_response};

/// actix-web middleware that authorizes every request it wraps with an [`Authorizer`].
///
/// - At the root, `App::new().wrap(CognitoAuth::new(authorizer))` applies the authorizer's
///   whole route table (usually loaded from a policy file with
///   [`AuthorizerBuilder::policy_file`](cognito_authz_core::AuthorizerBuilder::policy_file)).
/// - On a `scope` or `resource`, `.wrap(require(&authorizer, "scope:api/write")?)`
///   applies one policy to everything inside, whatever the path.
///
/// Allowed requests reach the handler with the verified token in the request extensions (as
/// `Arc<VerifiedToken>`, read by the [extractors](crate#extractors)); refused ones are answered
/// by the [`DenialResponder`] (by default the responses of `docs/responses.md`) without calling the handler.
/// CORS preflights (`OPTIONS` with `Access-Control-Request-Method`) are decided like any
/// request; wrap `actix-cors` outside this middleware (`.wrap(cors)` after
/// `.wrap(CognitoAuth::new(..))`) so it answers them first.
///
/// Everything that can be wrong is found when the middleware is built (a bad expression, an
/// unknown `policy:` name): nothing fails in `new_transform` or on a request.
///
/// # Example
///
/// ```
/// use actix_web::{App, HttpResponse, test, web};
/// use cognito_authz_actix::{CognitoAuth, require};
/// use cognito_authz_core::{AcceptedTokenUse, Authorizer, Policy};
/// use cognito_authz_testkit::LocalIssuer;
/// # actix_web::rt::System::new().block_on(async {
/// let issuer = LocalIssuer::offline();
/// let authorizer = Authorizer::builder()
///     .verifier(issuer.verifier_builder(AcceptedTokenUse::Access).build()?)
///     .unmatched(Policy::authenticated())
///     .build()?;
/// let app = test::init_service(
///     App::new()
///         .route("/health", web::get().to(HttpResponse::Ok))
///         .service(
///             web::scope("/admin")
///                 .wrap(require(&authorizer, "group:admin")?)
///                 .route("/users", web::get().to(HttpResponse::Ok)),
///         ),
/// )
/// .await;
///
/// let admin = issuer.access_token().groups(["admin"]).sign();
/// let user = issuer.access_token().sign();
/// let get = |token: &str| {
///     test::TestRequest::get()
///         .uri("/admin/users")
///         .insert_header(("authorization", format!("Bearer {token}")))
///         .to_request()
/// };
/// assert_eq!(test::call_service(&app, get(&admin)).await.status(), 200);
/// assert_eq!(test::call_service(&app, get(&user)).await.status(), 403);
/// let health = test::TestRequest::get().uri("/health").to_request();
/// assert_eq!(test::call_service(&app, health).await.status(), 200);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
#[must_use]
pub struct CognitoAuth {
    authorizer: Authorizer,
    responder: Arc<dyn DenialResponder>,
    responder_name: &'static str,
}

impl CognitoAuth {
    /// Applies `authorizer` as it is: its route table decides (the whole policy file at the
    /// app root).
    pub fn new(authorizer: Authorizer) -> Self {
        Self {
            authorizer,
            responder: Arc::new(DefaultResponder),
            responder_name: std::any::type_name::<DefaultResponder>(),
        }
    }

    /// Answers denials with `responder` instead of [`DefaultResponder`].
    pub fn responder(mut self, responder: impl DenialResponder) -> Self {
        self.responder_name = std::any::type_name_of_val(&responder);
        self.responder = Arc::new(responder);
        self
    }

    /// The authorizer applied.
    pub fn authorizer(&self) -> &Authorizer {
        &self.authorizer
    }
}

/// A middleware for one scope or resource (`wrap`) that applies the policy `expression` with
/// `authorizer`'s verifier, token source and realm; `policy:NAME` resolves against the
/// authorizer's named policies. For a [`Policy`](cognito_authz_core::Policy) built in code,
/// `CognitoAuth::new(authorizer.with_policy(&policy)?)`.
///
/// # Errors
/// The expression does not parse (with the column) or does not compile: at start-up, never in
/// a request.
pub fn require(authorizer: &Authorizer, expression: &str) -> Result<CognitoAuth, GuardError> {
    Ok(CognitoAuth::new(authorizer.with_expression(expression)?))
}

impl std::fmt::Debug for CognitoAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CognitoAuth")
            .field("authorizer", &self.authorizer)
            .field("responder", &ResponderName(self.responder_name))
            .finish()
    }
}

impl<S, B> Transform<S, ServiceRequest> for CognitoAuth
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = CognitoAuthMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        let token_header = self.authorizer.token_source().header_name().clone();
        let actix_token_header = ActixHeaderName::from_bytes(token_header.as_str().as_bytes()).ok();
        ready(Ok(CognitoAuthMiddleware {
            service: Rc::new(service),
            state: Rc::new(State {
                context: Rc::new(AuthContext {
                    realm: self.authorizer.realm().map(Arc::from),
                }),
                authorizer: self.authorizer.clone(),
                responder: Arc::clone(&self.responder),
                token_header,
                actix_token_header,
            }),
        }))
    }
}

/// The [`Service`] made by [`CognitoAuth`]; not used directly.
pub struct CognitoAuthMiddleware<S> {
    service: Rc<S>,
    state: Rc<State>,
}

impl<S> std::fmt::Debug for CognitoAuthMiddleware<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CognitoAuthMiddleware")
            .field("authorizer", &self.state.authorizer)
            .finish_non_exhaustive()
    }
}

struct State {
    authorizer: Authorizer,
    responder: Arc<dyn DenialResponder>,
    context: Rc<AuthContext>,
    /// The token source's header in both `http` versions, so looking it up costs no parsing.
    token_header: http::HeaderName,
    actix_token_header: Option<ActixHeaderName>,
}

/// Put into the extensions of a request the middleware let through without a token, or with
/// a realm to answer in, so extractors tell "no token" (401) from "no middleware" (500) and
/// answer with the configured realm. A request let through with a token and no realm carries
/// the token alone (the token shows the middleware ran): one extension, not two.
#[derive(Debug)]
pub(crate) struct AuthContext {
    pub(crate) realm: Option<Arc<str>>,
}

impl AuthContext {
    /// The response for `kind` with this middleware's realm.
    pub(crate) fn response(&self, kind: ErrorKind, scopes: &[String]) -> DenialResponse {
        DenialResponse::new(kind, scopes, self.realm.as_deref())
    }
}

/// The answer of [`CognitoAuthMiddleware`].
type Answer<B> = Result<ServiceResponse<EitherBody<B>>, Error>;

/// The future of an allowed request: the inner service's, its body made the left one.
type Allowed<F, B> = MapOk<F, fn(ServiceResponse<B>) -> ServiceResponse<EitherBody<B>>>;

/// The future of a request: allowed at once (not boxed), or a denial or a request waiting for
/// a key set (boxed: rare, and so the future an allowed request is moved around in stays
/// small).
type Decided<F, B> = Either<Allowed<F, B>, LocalBoxFuture<'static, Answer<B>>>;

impl<S, B> Service<ServiceRequest> for CognitoAuthMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    /// An allowed request decided at once is not boxed; a denial, or a request waiting for a
    /// key set, is.
    type Future = Decided<S::Future, B>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let Some(method) = method_of(request.method()) else {
            // Both `http` versions accept the same method tokens, so this cannot happen; if it
            // did, the request is refused, never let through.
            return Either::Right(refuse_method(&self.state, request));
        };
        // The decision is ready at once unless a key set has to be fetched (a token in the
        // verified-token cache, or any token whose key is cached): then neither a future is
        // boxed nor the service cloned.
        let decided = {
            let headers = ActixHeaders {
                map: request.headers(),
                state: &self.state,
            };
            self.state
                .authorizer
                .authorize_now(&method, target(&request), &headers)
        };
        match decided {
            Some(decision) => finish(&self.service, &self.state, request, decision),
            None => Either::Right(self.decide_later(request, method)),
        }
    }
}

impl<S> CognitoAuthMiddleware<S> {
    /// The slow path: a key set is being fetched. The pending first attempt was dropped (it
    /// only joined or started the single-flight fetch, which lives on in the key cache), and
    /// the request is decided again in a boxed future that owns what it needs.
    fn decide_later<B>(
        &self,
        request: ServiceRequest,
        method: http::Method,
    ) -> LocalBoxFuture<'static, Answer<B>>
    where
        S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
        B: MessageBody + 'static,
    {
        let service = Rc::clone(&self.service);
        let state = Rc::clone(&self.state);
        Box::pin(async move {
            let decision = {
                let headers = ActixHeaders {
                    map: request.headers(),
                    state: &state,
                };
                state
                    .authorizer
                    .authorize(&method, target(&request), &headers)
                    .await
            };
            finish(&*service, &state, request, decision).await
        })
    }
}

/// The request's method as the core names it: actix-web's `http` version in the core's.
/// The common methods are mapped directly; any other is converted from its name.
#[inline]
fn method_of(method: &actix_web::http::Method) -> Option<http::Method> {
    use actix_web::http::Method as Actix;
    Some(match *method {
        Actix::GET => http::Method::GET,
        Actix::POST => http::Method::POST,
        Actix::PUT => http::Method::PUT,
        Actix::DELETE => http::Method::DELETE,
        Actix::PATCH => http::Method::PATCH,
        Actix::HEAD => http::Method::HEAD,
        Actix::OPTIONS => http::Method::OPTIONS,
        _ => return http::Method::from_bytes(method.as_str().as_bytes()).ok(),
    })
}

/// What actix-web routes on: its decoded path (`%XX` decoded but for `%2F`, `%25`, `%2B`),
/// the full path even inside a scope, trying resources in registration order and falling
/// through failed method guards — so every matching route guards the request; and the path
/// as sent.
fn target(request: &ServiceRequest) -> RequestTarget<'_> {
    RequestTarget::actix(request.match_info().as_str(), request.path())
        .with_query(Some(request.query_string()).filter(|query| !query.is_empty()))
}

/// Lets an allowed request through (the verified token and this middleware's context in its
/// extensions) or answers a denial with the responder.
fn finish<S, B: 'static>(
    service: &S,
    state: &State,
    request: ServiceRequest,
    decision: Decision,
) -> Decided<S::Future, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    match decision {
        Decision::Allow { token } => {
            {
                let mut extensions = request.extensions_mut();
                // An outer middleware's context is replaced, so the innermost realm answers.
                if token.is_none()
                    || state.context.realm.is_some()
                    || extensions.contains::<Rc<AuthContext>>()
                {
                    extensions.insert(Rc::clone(&state.context));
                }
                if let Some(token) = token {
                    extensions.insert(token);
                }
            }
            let into_left: fn(ServiceResponse<B>) -> ServiceResponse<EitherBody<B>> =
                ServiceResponse::map_into_left_body;
            Either::Left(service.call(request).map_ok(into_left))
        }
        Decision::Deny(denial) => Either::Right(refuse(state, request, &denial)),
    }
}

/// The answer to a request whose method the core cannot name: `invalid_request`.
#[cold]
#[inline(never)]
fn refuse_method<B: 'static>(
    state: &State,
    request: ServiceRequest,
) -> LocalBoxFuture<'static, Answer<B>> {
    let response = state.context.response(ErrorKind::InvalidRequest, &[]);
    answered(request, http_response(&response))
}

/// The responder's answer to a denied request (out of line: an allowed request never builds
/// one).
#[cold]
#[inline(never)]
fn refuse<B: 'static>(
    state: &State,
    request: ServiceRequest,
    denial: &Denial,
) -> LocalBoxFuture<'static, Answer<B>> {
    let response = state.responder.respond(denial, request.request());
    answered(request, response)
}

/// A refused request's future: `response`, ready, as the right body.
fn answered<B: 'static>(
    request: ServiceRequest,
    response: HttpResponse,
) -> LocalBoxFuture<'static, Answer<B>> {
    Box::pin(ready(Ok(request
        .into_response(response)
        .map_into_right_body())))
}

/// actix-web's header map seen through the core's [`HeaderLookup`]: nothing is copied, and
/// only the headers the token source asks for are looked up.
struct ActixHeaders<'a> {
    map: &'a HeaderMap,
    state: &'a State,
}

impl HeaderLookup for ActixHeaders<'_> {
    fn values<'a>(&'a self, name: &http::HeaderName) -> impl Iterator<Item = &'a [u8]> {
        let values = match &self.state.actix_token_header {
            Some(token_header) if *name == self.state.token_header => {
                self.map.get_all(token_header)
            }
            _ => self.map.get_all(name.as_str()),
        };
        values.map(actix_web::http::header::HeaderValue::as_bytes)
    }

    fn contains(&self, name: &http::HeaderName) -> bool {
        self.map.contains_key(name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;
    use cognito_authz_core::{AcceptedTokenUse, IssuerConfig, TokenSource, Verifier};

    use super::*;

    fn state(token_source: TokenSource) -> State {
        let verifier = Verifier::builder()
            .issuer(
                IssuerConfig::user_pool("us-east-1_Example1")
                    .any_client()
                    .token_use(AcceptedTokenUse::Access)
                    .jwks_json(r#"{"keys":[]}"#)
                    .build()
                    .expect("issuer"),
            )
            .build()
            .expect("verifier");
        let authorizer = Authorizer::builder()
            .verifier(verifier)
            .token_source(token_source)
            .build()
            .expect("authorizer");
        let token_header = authorizer.token_source().header_name().clone();
        State {
            actix_token_header: ActixHeaderName::from_bytes(token_header.as_str().as_bytes()).ok(),
            token_header,
            context: Rc::new(AuthContext { realm: None }),
            responder: Arc::new(DefaultResponder),
            authorizer,
        }
    }

    #[test]
    fn actix_headers_are_read_in_place_with_every_value() {
        let custom = TokenSource::builder()
            .header("Dev-Auth-Token")
            .cookie("id_token")
            .build()
            .expect("source");
        let state = state(custom);
        let mut map = HeaderMap::new();
        for (name, value) in [
            ("dev-auth-token", "a.b.c"),
            ("cookie", "x=1"),
            ("cookie", "id_token=d.e.f"),
        ] {
            map.append(
                ActixHeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let headers = ActixHeaders {
            map: &map,
            state: &state,
        };
        let token_header = http::HeaderName::from_static("dev-auth-token");
        let values: Vec<&[u8]> = headers.values(&token_header).collect();
        assert_eq!(values, [b"a.b.c".as_slice()]);
        let cookies: Vec<&[u8]> = headers.values(&http::header::COOKIE).collect();
        assert_eq!(cookies, [b"x=1".as_slice(), b"id_token=d.e.f".as_slice()]);
        assert!(headers.contains(&http::header::COOKIE));
        assert!(!headers.contains(&http::header::AUTHORIZATION));
        assert_eq!(headers.values(&http::header::AUTHORIZATION).count(), 0);
        // The core reads the same tokens through them as from an `http::HeaderMap`.
        let error = state
            .authorizer
            .token_source()
            .extract_from(&headers)
            .expect_err("header and cookie at once");
        assert_eq!(error.kind(), ErrorKind::InvalidRequest);
    }

    #[test]
    fn a_bad_expression_is_refused_before_serving() {
        let authorizer = state(TokenSource::default()).authorizer;
        let error = require(&authorizer, "(group:admin").expect_err("unbalanced");
        assert_eq!(
            error.kind(),
            cognito_authz_core::GuardErrorKind::Parse,
            "{error}"
        );
        assert!(require(&authorizer, "group:admin or scope:x").is_ok());
    }

    /// Every method actix-web can carry maps to the method of the same name
    /// (the common ones directly, the rest by name): lowercase `get`, `CONNECT`, `TRACE`,
    /// extension methods of any length, never another route's method.
    #[test]
    fn every_method_maps_to_the_one_of_its_name() {
        let long = "X".repeat(40);
        let names = [
            "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE", "get",
            "Get", "head", "options", "PURGE", "PROPFIND", "M-SEARCH", "GET1", "GETS", "HEADX",
            &long,
        ];
        for name in names {
            // A name actix-web's `http` refuses never reaches the middleware.
            let Ok(actix) = actix_web::http::Method::from_bytes(name.as_bytes()) else {
                eprintln!("actix-web refuses the method {name:?}");
                continue;
            };
            let mapped = method_of(&actix).expect("mapped");
            assert_eq!(mapped.as_str(), name, "{name}");
            assert_eq!(
                mapped,
                http::Method::from_bytes(name.as_bytes()).expect("core"),
                "{name}"
            );
        }
    }
}
