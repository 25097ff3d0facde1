//! [`Authz`]: the service the layer wraps around yours.

use std::fmt;
use std::mem;
use std::sync::Arc;
use std::task::{Context, Poll};

use cognito_authz_core::{Authorizer, Decision, VerifiedToken};
use http::{Request, Response};
use tower_service::Service;

use crate::extensions::{NoToken, Realm};
use crate::future::ResponseFuture;
use crate::policy_path::PolicyPath;
use crate::responder::Responder;

/// Authorizes each request, then calls the inner service or answers the denial. Built by
/// [`AuthzLayer`](crate::AuthzLayer).
#[derive(Clone)]
pub struct Authz<S, R = crate::DefaultResponder> {
    inner: S,
    authorizer: Authorizer,
    responder: R,
    realm: Option<Realm>,
    path: PolicyPath,
}

/// What the policy is looked up with: the client's path (axum's `OriginalUri` inside a nested
/// router), less an API Gateway stage (policy_path.rs); for requests lambda_http built, the
/// path as sent (`sent`) as a second reading; and the query.
fn target<'a>(
    path: PolicyPath,
    uri: &'a http::Uri,
    extensions: &'a http::Extensions,
    sent: Option<&'a str>,
) -> cognito_authz_core::RequestTarget<'a> {
    let target = cognito_authz_core::RequestTarget::new(path.of(uri.path(), extensions));
    match sent {
        Some(sent) => target.with_raw_path(sent),
        None => target,
    }
    .with_query(uri.query())
}

impl<S, R> Authz<S, R> {
    pub(crate) fn new(
        inner: S,
        authorizer: Authorizer,
        responder: R,
        realm: Option<Realm>,
        path: PolicyPath,
    ) -> Self {
        Self {
            inner,
            authorizer,
            responder,
            realm,
            path,
        }
    }

    /// The authorizer deciding requests.
    pub fn authorizer(&self) -> &Authorizer {
        &self.authorizer
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service, consuming this one.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, R, ReqBody, ResBody> Service<Request<ReqBody>> for Authz<S, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: 'static,
    R: Responder<ResBody> + Clone + Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The decision is ready at once unless a key set has to be fetched (a token in the
        // verified-token cache, or any token whose key is cached): then an allowed request
        // allocates nothing and the service is never cloned.
        let decided = {
            let sent = self.path.sent(request.extensions());
            self.authorizer.authorize_now(
                request.method(),
                target(
                    self.path,
                    request.uri(),
                    request.extensions(),
                    sent.as_deref(),
                ),
                request.headers(),
            )
        };
        match decided {
            Some(Decision::Allow { token }) => {
                mark(&mut request, token, self.realm.as_ref());
                ResponseFuture::allowed(self.inner.call(request))
            }
            Some(Decision::Deny(denial)) => ResponseFuture::denied(self.responder.respond(&denial)),
            None => self.authorize_later(request),
        }
    }
}

impl<S, R> Authz<S, R> {
    /// The slow path: a key set is being fetched. The pending first attempt was dropped (it
    /// only joined or started the single-flight fetch, which lives on in the key cache), and
    /// the request is decided again in a boxed future that owns everything it needs.
    fn authorize_later<ReqBody, ResBody>(
        &mut self,
        request: Request<ReqBody>,
    ) -> ResponseFuture<S::Future, ResBody, S::Error>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: 'static,
        R: Responder<ResBody> + Clone + Send + 'static,
        ReqBody: Send + 'static,
        ResBody: Send + 'static,
    {
        // `poll_ready` readied `self.inner`: move that one into the future and keep a fresh
        // clone (which the next `poll_ready` readies).
        let clone = self.inner.clone();
        let mut inner = mem::replace(&mut self.inner, clone);
        let authorizer = self.authorizer.clone();
        let responder = self.responder.clone();
        let realm = self.realm.clone();
        let path = self.path;
        // Split the request so the future borrows only `Parts` (Sync) across the await, never
        // the body (axum's is not Sync).
        let (parts, body) = request.into_parts();
        ResponseFuture::authorizing(Box::pin(async move {
            let decision = {
                let sent = path.sent(&parts.extensions);
                authorizer
                    .authorize(
                        &parts.method,
                        target(path, &parts.uri, &parts.extensions, sent.as_deref()),
                        &parts.headers,
                    )
                    .await
            };
            let mut request = Request::from_parts(parts, body);
            match decision {
                Decision::Allow { token } => {
                    mark(&mut request, token, realm.as_ref());
                    inner.call(request).await
                }
                Decision::Deny(denial) => Ok(responder.respond(&denial)),
            }
        }))
    }
}

/// Leaves the outcome in the request: the token, or [`NoToken`]; and the realm, if any.
fn mark<B>(request: &mut Request<B>, token: Option<Arc<VerifiedToken>>, realm: Option<&Realm>) {
    let extensions = request.extensions_mut();
    match token {
        Some(token) => {
            extensions.insert(token);
        }
        None => {
            extensions.insert(NoToken);
        }
    }
    if let Some(realm) = realm {
        extensions.insert(realm.clone());
    }
}

impl<S: fmt::Debug, R> fmt::Debug for Authz<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authz")
            .field("inner", &self.inner)
            .field("authorizer", &self.authorizer)
            .field("responder", &std::any::type_name::<R>())
            .finish()
    }
}
