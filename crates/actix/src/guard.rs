//! Policy guards as handler arguments: `Require<Admin>` where `Admin` is a marker type made by
//! [`policy!`](crate::policy!) carrying a static expression, compiled once.

use std::fmt;
use std::future::{Ready, ready};
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use cognito_authz_core::{CompiledPolicy, ErrorKind, Evaluation, Policy, VerifiedToken};

use crate::extract::{deny, verified};
use crate::middleware::RequireError;
use crate::rejection::{InvalidPolicy, Rejection};

/// A policy expression known at compile time; made by [`policy!`](crate::policy!).
///
/// The expression is parsed and compiled on first use and kept for the life of the program.
/// It stands alone: `policy:NAME` references cannot be resolved here (use
/// [`CognitoAuth::require`](crate::CognitoAuth::require) for those). Call
/// [`PolicyExpression::check`] at start-up so a typo fails before serving rather than
/// answering 500.
pub trait PolicyExpression: 'static {
    /// The expression, in the policy language (`docs/policy.md`).
    const EXPRESSION: &'static str;

    /// Where the compiled policy is kept (one `static` per marker type).
    fn cell() -> &'static PolicyCell;

    /// The compiled policy, compiling it on first use.
    ///
    /// # Errors
    /// The expression does not parse or compile.
    fn compiled() -> Result<&'static CompiledPolicy, &'static RequireError> {
        Self::cell().get_or_compile(Self::EXPRESSION)
    }

    /// Checks the expression; call it at start-up.
    ///
    /// # Errors
    /// As [`PolicyExpression::compiled`].
    fn check() -> Result<(), RequireError> {
        Self::compiled().map(|_| ()).map_err(Clone::clone)
    }
}

/// The once-compiled policy of a [`PolicyExpression`] (what [`policy!`](crate::policy!) puts in
/// its `static`).
pub struct PolicyCell(OnceLock<Result<CompiledPolicy, RequireError>>);

impl PolicyCell {
    /// An empty cell.
    pub const fn new() -> Self {
        Self(OnceLock::new())
    }

    /// The compiled `expression`, compiling it the first time.
    ///
    /// # Errors
    /// The expression does not parse or compile.
    pub fn get_or_compile(&self, expression: &str) -> Result<&CompiledPolicy, &RequireError> {
        self.0
            .get_or_init(|| {
                let policy: Policy = expression.parse().map_err(|error| RequireError::Parse {
                    expression: expression.to_owned(),
                    error,
                })?;
                policy.compile().map_err(|error| RequireError::Compile {
                    expression: expression.to_owned(),
                    error,
                })
            })
            .as_ref()
    }
}

impl Default for PolicyCell {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for PolicyCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PolicyCell").field(&self.0.get()).finish()
    }
}

/// Defines marker types for [`Require`], each carrying a static policy expression.
///
/// ```
/// cognito_authz_actix::policy! {
///     /// Administrators.
///     pub struct Admin = "group:admin";
///     pub struct Writer = "scope:api/write or group:admin";
/// }
/// ```
#[macro_export]
macro_rules! policy {
    ($($(#[$meta:meta])* $vis:vis struct $name:ident = $expression:literal;)+) => {
        $(
            $(#[$meta])*
            #[doc = concat!("Policy guard marker: `", $expression, "`.")]
            #[derive(Debug, Clone, Copy, Default)]
            $vis struct $name;

            impl $crate::PolicyExpression for $name {
                const EXPRESSION: &'static str = $expression;

                fn cell() -> &'static $crate::PolicyCell {
                    static CELL: $crate::PolicyCell = $crate::PolicyCell::new();
                    &CELL
                }
            }
        )+
    };
}

/// A handler argument that admits the request only if its verified token satisfies `P`'s
/// policy, and then derefs to the token.
///
/// Rejections are those of the middleware: 403 `insufficient_scope` with the
/// `scope` list when scopes alone would fix it, otherwise 403 `forbidden`; 401 `missing_token`
/// without a token; 500 without the middleware or for an invalid expression.
///
/// ```
/// use cognito_authz_actix::{Require, policy};
///
/// policy! {
///     pub struct Admin = "group:admin";
/// }
///
/// async fn delete_user(admin: Require<Admin>) -> String {
///     format!("deleted by {}", admin.username().unwrap_or("?"))
/// }
/// ```
pub struct Require<P> {
    token: Arc<VerifiedToken>,
    policy: PhantomData<fn() -> P>,
}

impl<P: PolicyExpression> Require<P> {
    /// Checks `P`'s expression ([`PolicyExpression::check`]); call it at start-up.
    ///
    /// # Errors
    /// The expression does not parse or compile.
    pub fn check() -> Result<(), RequireError> {
        P::check()
    }
}

impl<P> Require<P> {
    /// The shared token.
    pub fn into_inner(self) -> Arc<VerifiedToken> {
        self.token
    }
}

impl<P> Clone for Require<P> {
    fn clone(&self) -> Self {
        Self {
            token: Arc::clone(&self.token),
            policy: PhantomData,
        }
    }
}

impl<P: PolicyExpression> fmt::Debug for Require<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Require")
            .field("policy", &P::EXPRESSION)
            .field("token", &self.token)
            .finish()
    }
}

impl<P> Deref for Require<P> {
    type Target = VerifiedToken;

    fn deref(&self) -> &VerifiedToken {
        &self.token
    }
}

impl<P: PolicyExpression> FromRequest for Require<P> {
    type Error = Rejection;
    type Future = Ready<Result<Self, Rejection>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(require::<P>(request).map(|token| Require {
            token,
            policy: PhantomData,
        }))
    }
}

fn require<P: PolicyExpression>(request: &HttpRequest) -> Result<Arc<VerifiedToken>, Rejection> {
    let policy = P::compiled().map_err(|error| {
        tracing::error!(%error, "invalid policy guard");
        Rejection::InvalidPolicy(InvalidPolicy::new(error.to_string()))
    })?;
    let (token, context) = verified(request, "Require")?;
    match policy.evaluate(&token) {
        Evaluation::Allow => Ok(token),
        Evaluation::InsufficientScope(scopes) => Err(deny(
            request,
            &context,
            ErrorKind::InsufficientScope,
            &scopes,
            format!(
                "policy guard `{}`: {}",
                policy.text(),
                policy.explain(&token)
            ),
        )),
        Evaluation::Forbidden => Err(deny(
            request,
            &context,
            ErrorKind::Forbidden,
            &[],
            format!(
                "policy guard `{}`: {}",
                policy.text(),
                policy.explain(&token)
            ),
        )),
    }
}
