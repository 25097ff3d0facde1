//! [`AuthzLayer`]: the tower `Layer` that puts an [`Authorizer`] in front of a service.

use std::fmt;

use cognito_authz_core::{Authorizer, GuardError, Policy};
use tower_layer::Layer;

use crate::extensions::Realm;
use crate::policy_path::PolicyPath;
use crate::responder::DefaultResponder;
use crate::service::Authz;

/// Applies an [`Authorizer`] (a whole route table, or one policy) to every request of the
/// wrapped service; see the [crate docs](crate) for an example.
///
/// Cheap to clone (the authorizer is one `Arc`).
#[derive(Clone)]
#[must_use]
pub struct AuthzLayer<R = DefaultResponder> {
    authorizer: Authorizer,
    responder: R,
    realm: Option<Realm>,
    path: PolicyPath,
}

impl AuthzLayer {
    /// A layer deciding with `authorizer` and answering denials with the [`DefaultResponder`].
    pub fn new(authorizer: Authorizer) -> Self {
        let realm = authorizer.realm().map(Realm::new);
        Self {
            authorizer,
            responder: DefaultResponder,
            realm,
            path: PolicyPath::default(),
        }
    }
}

impl From<Authorizer> for AuthzLayer {
    fn from(authorizer: Authorizer) -> Self {
        Self::new(authorizer)
    }
}

impl<R> AuthzLayer<R> {
    /// Answers denials with `responder` instead (status, challenge and body are then yours).
    pub fn responder<R2>(self, responder: R2) -> AuthzLayer<R2> {
        AuthzLayer {
            authorizer: self.authorizer,
            responder,
            realm: self.realm,
            path: self.path,
        }
    }

    /// Which path the route table is matched on for requests built by lambda_http: without
    /// the API Gateway stage ([`StagePath::Strip`](crate::StagePath::Strip), the default) or
    /// as lambda_http built it ([`StagePath::Keep`](crate::StagePath::Keep)). See
    /// [`lambda_policy_path`](crate::lambda_policy_path) for the rules.
    #[cfg(feature = "lambda-http")]
    pub fn stage_path(mut self, stage: crate::StagePath) -> Self {
        self.path.stage = stage;
        self
    }

    /// The authorizer deciding requests.
    pub fn authorizer(&self) -> &Authorizer {
        &self.authorizer
    }

    /// A layer that applies the policy `expression` to every request it sees, with this
    /// layer's verifier, token source, realm and responder: for one route
    /// (`route_layer`), a sub-router, or a tonic service. `policy:NAME` refers to the named
    /// policies of this layer's authorizer (its policy file's `[policies]`).
    ///
    /// ```
    /// # use cognito_authz_core::{AcceptedTokenUse, Authorizer, Policy};
    /// # use cognito_authz_tower::AuthzLayer;
    /// # let issuer = cognito_authz_testkit::LocalIssuer::offline();
    /// # let verifier = issuer.verifier_builder(AcceptedTokenUse::Any).build().unwrap();
    /// let layer = AuthzLayer::new(Authorizer::builder().verifier(verifier).unmatched(Policy::authenticated()).build()?);
    /// let admins = layer.require("group:admin and token_use:id")?;
    /// // Mistakes are found here, at start-up, with their position:
    /// let error = layer.require("group:admin and").unwrap_err();
    /// assert_eq!(
    ///     error.to_string(),
    ///     "invalid policy `group:admin and`: column 16: expected an atom after 'and'"
    /// );
    /// # let _ = admins;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// The expression does not parse, or does not compile (`public` combined with other
    /// atoms, an unknown `policy:` name, an invalid scope).
    pub fn require(&self, expression: &str) -> Result<Self, GuardError>
    where
        R: Clone,
    {
        Ok(self.with_authorizer(self.authorizer.with_expression(expression)?))
    }

    /// [`AuthzLayer::require`] with a [`Policy`] built in code.
    ///
    /// # Errors
    /// The policy does not compile (see [`AuthzLayer::require`]).
    pub fn require_policy(&self, policy: &Policy) -> Result<Self, GuardError>
    where
        R: Clone,
    {
        Ok(self.with_authorizer(self.authorizer.with_policy(policy)?))
    }

    fn with_authorizer(&self, authorizer: Authorizer) -> Self
    where
        R: Clone,
    {
        Self {
            authorizer,
            responder: self.responder.clone(),
            realm: self.realm.clone(),
            path: self.path,
        }
    }
}

impl<S, R: Clone> Layer<S> for AuthzLayer<R> {
    type Service = Authz<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        Authz::new(
            inner,
            self.authorizer.clone(),
            self.responder.clone(),
            self.realm.clone(),
            self.path,
        )
    }
}

impl<R> fmt::Debug for AuthzLayer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthzLayer")
            .field("authorizer", &self.authorizer)
            .field("responder", &std::any::type_name::<R>())
            .finish()
    }
}
