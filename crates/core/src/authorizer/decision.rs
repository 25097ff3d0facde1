//! What a decision says: allow (with the verified token, if any) or deny with a [`Denial`], and
//! the one place a policy evaluation becomes a denial.

use std::fmt;
use std::sync::Arc;

use http::StatusCode;

use crate::edge::response::DenialResponse;
use crate::error::ErrorKind;
use crate::policy::CompiledPolicy;
use crate::verify::claims::VerifiedToken;

/// The outcome of [`Authorizer::authorize`](crate::Authorizer::authorize).
#[derive(Debug, Clone)]
pub enum Decision {
    /// Let the request through. `token` is the verified token: always present for non-public
    /// policies; on public routes, present when a valid token was sent (invalid ones are
    /// ignored).
    Allow {
        /// The verified token, if any.
        token: Option<Arc<VerifiedToken>>,
    },
    /// Refuse the request with [`Denial::response`].
    Deny(Denial),
}

impl Decision {
    /// Whether the request may proceed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }

    /// The verified token of an allowed request, if any.
    pub fn token(&self) -> Option<&Arc<VerifiedToken>> {
        match self {
            Decision::Allow { token } => token.as_ref(),
            Decision::Deny(_) => None,
        }
    }

    /// The denial, if denied.
    pub fn denial(&self) -> Option<&Denial> {
        match self {
            Decision::Allow { .. } => None,
            Decision::Deny(denial) => Some(denial),
        }
    }
}

/// Why a request was refused: the code, where (route and policy), a reason for logs, and the
/// scopes for an `insufficient_scope` challenge. Never holds token content.
///
/// The authorizer, the per-handler policy guards and the extractors of every adapter refuse
/// with a `Denial`, so one request gets the same answer whichever of them refused it.
#[derive(Clone)]
pub struct Denial {
    /// Boxed, so a [`Decision`] is two words and an allowed request moves no more.
    parts: Box<Parts>,
}

impl fmt::Debug for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Parts {
            kind,
            route,
            policy,
            reason,
            scopes,
            realm,
        } = &*self.parts;
        f.debug_struct("Denial")
            .field("kind", kind)
            .field("route", route)
            .field("policy", policy)
            .field("reason", reason)
            .field("scopes", scopes)
            .field("realm", realm)
            .finish()
    }
}

/// What a [`Denial`] holds.
#[derive(Debug, Clone)]
struct Parts {
    kind: ErrorKind,
    route: Option<Arc<str>>,
    policy: Arc<str>,
    reason: String,
    scopes: Arc<[String]>,
    realm: Option<Arc<str>>,
}

impl Denial {
    /// A denial of `kind` with `reason` (for logs: which check or which atoms failed, never
    /// token content), no route, no policy text and no scopes.
    pub fn new(kind: ErrorKind, reason: impl Into<String>) -> Self {
        Self {
            parts: Box::new(Parts {
                kind,
                route: None,
                policy: Arc::from(""),
                reason: reason.into(),
                scopes: Arc::from(Vec::new()),
                realm: None,
            }),
        }
    }

    /// What `policy` says about `token`: `None` when it allows the request, else the denial
    /// (`insufficient_scope` with the scopes that would allow it, or `forbidden`) with the
    /// failed atoms as its reason and the policy's text.
    pub fn of_policy(policy: &CompiledPolicy, token: &VerifiedToken) -> Option<Self> {
        let evaluation = policy.evaluate(token);
        if evaluation.is_allowed() {
            return None;
        }
        Self::of_denying_policy(policy, &evaluation, token)
    }

    /// [`Denial::of_policy`] once the policy denied (out of line: an allowed request never
    /// builds a denial).
    #[cold]
    #[inline(never)]
    fn of_denying_policy(
        policy: &CompiledPolicy,
        evaluation: &crate::policy::Evaluation,
        token: &VerifiedToken,
    ) -> Option<Self> {
        Self::of_evaluation(policy, evaluation, || policy.explain(token).to_string())
    }

    /// The denial for `evaluation` of `policy` (`None` when it allows), with `reason` asked
    /// for only when it denies.
    pub(crate) fn of_evaluation(
        policy: &CompiledPolicy,
        evaluation: &crate::policy::Evaluation,
        reason: impl FnOnce() -> String,
    ) -> Option<Self> {
        let kind = evaluation.error_kind()?;
        Some(Self {
            parts: Box::new(Parts {
                kind,
                route: None,
                policy: policy.shared_text(),
                reason: reason(),
                scopes: Arc::from(evaluation.scopes()),
                realm: None,
            }),
        })
    }

    /// The denial answered on `route` (a route pattern).
    #[must_use]
    pub fn on_route(mut self, route: Option<Arc<str>>) -> Self {
        self.parts.route = route;
        self
    }

    /// The denial as decided under `policy` (its canonical text).
    #[must_use]
    pub(crate) fn under_policy(mut self, policy: Arc<str>) -> Self {
        self.parts.policy = policy;
        self
    }

    /// The denial with `realm` in its challenge.
    #[must_use]
    pub fn in_realm(mut self, realm: Option<Arc<str>>) -> Self {
        self.parts.realm = realm;
        self
    }

    /// The error kind (`missing_token`, `expired`, `insufficient_scope`, `forbidden`, …).
    pub fn kind(&self) -> ErrorKind {
        self.parts.kind
    }

    /// The stable code string of the kind.
    pub fn code(&self) -> &'static str {
        self.parts.kind.code()
    }

    /// The HTTP status (400, 401, 403 or 503).
    pub fn status(&self) -> StatusCode {
        self.parts.kind.status()
    }

    /// The matched route pattern, or `None` when the `unmatched` default applied (or a guard
    /// or extractor refused).
    pub fn route(&self) -> Option<&str> {
        self.parts.route.as_deref()
    }

    /// The policy that applied, in canonical text (empty for extractor refusals).
    pub fn policy(&self) -> &str {
        &self.parts.policy
    }

    /// What failed, for logs and the CLI (which check, or which policy atoms).
    pub fn reason(&self) -> &str {
        &self.parts.reason
    }

    /// The scopes of an `insufficient_scope` denial (empty otherwise).
    pub fn scopes(&self) -> &[String] {
        &self.parts.scopes
    }

    /// The realm of the challenge, if any.
    pub fn realm(&self) -> Option<&str> {
        self.parts.realm.as_deref()
    }

    /// The HTTP answer, identical in every adapter.
    pub fn response(&self) -> DenialResponse {
        DenialResponse::new(
            self.parts.kind,
            &self.parts.scopes,
            self.parts.realm.as_deref(),
        )
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} on route {} (policy `{}`): {}",
            self.parts.kind.code(),
            self.parts.route.as_deref().unwrap_or("<unmatched>"),
            self.parts.policy,
            self.parts.reason
        )
    }
}
