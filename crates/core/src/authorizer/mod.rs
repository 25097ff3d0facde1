//! The whole authorization decision as one call: token source → verifier → route policy.
//!
//! [`Authorizer::authorize`] takes the method, path and headers of a request and answers
//! [`Decision::Allow`] (with the verified token, if any) or [`Decision::Deny`] with a
//! [`Denial`] that knows its code, route, policy, a reason for logs, and its HTTP response.
//! Adapters call it once per request and never look inside the verifier.
//!
//! - `builder.rs`: [`AuthorizerBuilder`], the one way to make an authorizer (from a policy
//!   file, or from a verifier and routes in code);
//! - `decision.rs`: [`Decision`] and [`Denial`], and how a policy evaluation becomes a denial;
//! - `authorize.rs`: the per-request pipeline.

mod authorize;
mod builder;
mod cedar;
mod decision;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

pub use builder::AuthorizerBuilder;
pub(crate) use builder::check_issuer_names;
pub(crate) use cedar::{CedarSetUp, Loaders, prepare as prepare_cedar};
pub use decision::{Decision, Denial};

use crate::edge::token_source::TokenSource;
use crate::policy::Policy;
use crate::policy::guard::GuardError;
use crate::policy::routes::RouteTable;
use crate::reload::{Active, Live, ReloadSettings};
use crate::verify::Verifier;

/// Verifier + route table + token source: decides requests. Cheap to clone (one `Arc`).
///
/// # Example
///
/// ```
/// use cognito_authz_core::{
///     AcceptedTokenUse, Authorizer, Decision, ErrorKind, IssuerConfig, Policy, Verifier,
/// };
/// use http::{HeaderMap, Method};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let verifier = Verifier::builder()
///     .issuer(
///         IssuerConfig::user_pool("us-east-1_Example1")
///             .client_ids(["1example23456789"])
///             .token_use(AcceptedTokenUse::Access)
///             .jwks_json(r#"{"keys":[]}"#)
///             .build()?,
///     )
///     .build()?;
/// let authorizer = Authorizer::builder()
///     .verifier(verifier)
///     .route("/health", Policy::public())
///     .route("/admin/{*rest}", "group:admin".parse()?)
///     .build()?;
///
/// let health = authorizer.authorize(&Method::GET, "/health", &HeaderMap::new()).await;
/// assert!(health.is_allowed());
///
/// let Decision::Deny(denial) =
///     authorizer.authorize(&Method::GET, "/admin/users", &HeaderMap::new()).await
/// else {
///     panic!("no token must be denied")
/// };
/// assert_eq!(denial.kind(), ErrorKind::MissingToken);
/// assert_eq!(denial.route(), Some("/admin/{*rest}"));
/// let response = denial.response();
/// assert_eq!(response.status(), 401);
/// assert_eq!(response.www_authenticate().unwrap(), "Bearer");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Authorizer {
    inner: Arc<Inner>,
}

struct Inner {
    /// Verifier and route table, swapped whole by a reload (see `reload.rs`).
    live: Live,
    token_source: TokenSource,
    realm: Option<Arc<str>>,
    /// With an ALB in front: identities come from its `x-amzn-oidc-data` tokens.
    #[cfg(feature = "alb")]
    alb: Option<crate::verify::alb::AlbVerifier>,
}

impl Authorizer {
    /// Starts building an authorizer: from a policy file
    /// ([`AuthorizerBuilder::policy_file`]) or from a verifier and routes in code
    /// ([`AuthorizerBuilder::verifier`]).
    pub fn builder() -> AuthorizerBuilder {
        AuthorizerBuilder::default()
    }

    fn from_parts(
        verifier: Verifier,
        routes: RouteTable,
        token_source: TokenSource,
        realm: Option<String>,
        cedar: CedarSetUp,
        reload: ReloadSettings,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                live: Live::reloadable(Active::new(verifier, routes, cedar), reload),
                token_source,
                realm: realm.map(Arc::from),
                #[cfg(feature = "alb")]
                alb: None,
            }),
        }
    }

    /// An authorizer with the same verifier, token source and realm that applies `policy` to
    /// every request, resolving `policy:` references from this one's named policies: what a
    /// per-route layer or middleware applies.
    ///
    /// # Errors
    /// The policy does not compile against the named policies.
    pub fn with_policy(&self, policy: &Policy) -> Result<Self, GuardError> {
        let inner = &*self.inner;
        let active = inner.live.load();
        let compiled = active
            .routes
            .policies()
            .compile(policy)
            .map_err(|error| GuardError::compile(policy.to_string(), error))?;
        Ok(Self {
            inner: Arc::new(Inner {
                // No route pattern, so no Cedar action: a `cedar` atom here never holds.
                live: Live::fixed(Active::new(
                    active.verifier.clone(),
                    RouteTable::single(compiled),
                    CedarSetUp::default(),
                )),
                token_source: inner.token_source.clone(),
                realm: inner.realm.clone(),
                #[cfg(feature = "alb")]
                alb: inner.alb.clone(),
            }),
        })
    }

    /// [`Authorizer::with_policy`] for a policy expression.
    ///
    /// # Errors
    /// The expression does not parse, or does not compile against the named policies.
    pub fn with_expression(&self, expression: &str) -> Result<Self, GuardError> {
        let policy: Policy = expression
            .parse()
            .map_err(|error| GuardError::parse(expression, error))?;
        self.with_policy(&policy)
            .map_err(|error| error.for_expression(expression))
    }

    /// The same routes and policies, with identities taken from an Application Load
    /// Balancer's `x-amzn-oidc-data` header and verified by `alb` instead of the token source
    /// and Cognito verifier (a service behind an ALB that authenticates users).
    #[cfg(feature = "alb")]
    #[must_use]
    pub fn with_alb(&self, alb: crate::verify::alb::AlbVerifier) -> Self {
        let inner = &*self.inner;
        Self {
            inner: Arc::new(Inner {
                live: inner.live.clone(),
                token_source: inner.token_source.clone(),
                realm: inner.realm.clone(),
                alb: Some(alb),
            }),
        }
    }

    /// The verifier in force (a reload may replace it; clones are cheap). Background refresh
    /// started on it follows reloads ([`Verifier::spawn_background_refresh`]).
    pub fn verifier(&self) -> Verifier {
        self.inner.live.load().verifier.clone()
    }

    /// The route table in force (a reload may replace it).
    pub fn routes(&self) -> Arc<RouteTable> {
        Arc::clone(&self.inner.live.load().routes)
    }

    /// The Cedar set-up in force, if any (a reload may replace it).
    #[cfg(feature = "cedar")]
    pub fn cedar(&self) -> Option<crate::cedar::Cedar> {
        self.inner.live.load().cedar.clone()
    }

    pub(crate) fn live(&self) -> &Live {
        &self.inner.live
    }

    /// Where tokens are read from.
    pub fn token_source(&self) -> &TokenSource {
        &self.inner.token_source
    }

    /// The configured realm, if any.
    pub fn realm(&self) -> Option<&str> {
        self.inner.realm.as_deref()
    }

    /// The configured realm, shared.
    pub fn shared_realm(&self) -> Option<&Arc<str>> {
        self.inner.realm.as_ref()
    }
}

impl fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorizer")
            .field("verifier", &self.inner.live.load().verifier)
            .field("routes", &self.inner.live.load().routes)
            .field("token_source", &self.inner.token_source)
            .field("realm", &self.inner.realm)
            .finish()
    }
}
