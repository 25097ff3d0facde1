//! Policy guards: handler arguments that admit a request only if a fixed policy expression
//! allows its token. Declared with [`policy_guard!`](crate::policy_guard).

use cognito_authz_core::{CompiledPolicy, ErrorKind, Evaluation, Policy};
use http::request::Parts;

use crate::extract::{lookup, realm};
use crate::rejection::{AuthzRejection, InvalidGuard, MissingToken, PolicyDenied};

/// A marker type carrying a static policy expression; implemented by
/// [`policy_guard!`](crate::policy_guard), which also makes the type an extractor.
pub trait PolicyGuard {
    /// The policy expression (`docs/policy.md`), without `policy:` references.
    const EXPRESSION: &'static str;

    /// The expression, parsed and compiled on first use and kept.
    fn policy() -> &'static Result<CompiledPolicy, InvalidGuard>;

    /// Parses the expression now: call it at start-up (or in a test) so a bad expression
    /// fails before serving instead of answering 500.
    ///
    /// # Errors
    /// The expression does not parse or does not compile.
    fn validate() -> Result<(), InvalidGuard> {
        Self::policy().as_ref().map(|_| ()).map_err(Clone::clone)
    }

    /// Decides the request: the token the layer left must satisfy the expression.
    ///
    /// # Errors
    /// No layer (500), no token on a public route (401), the policy denies (403
    /// `insufficient_scope` or `forbidden`), or the expression is invalid (500).
    fn check(parts: &Parts) -> Result<(), AuthzRejection> {
        let policy = Self::policy().as_ref().map_err(|error| error.clone())?;
        let token = lookup(parts)?;
        if policy.is_public() {
            return Ok(());
        }
        let Some(token) = token else {
            return Err(MissingToken {
                realm: realm(parts),
            }
            .into());
        };
        let guard = std::any::type_name::<Self>();
        let (kind, scopes) = match policy.evaluate(token) {
            Evaluation::Allow => return Ok(()),
            Evaluation::InsufficientScope(scopes) => (ErrorKind::InsufficientScope, scopes),
            Evaluation::Forbidden => (ErrorKind::Forbidden, Vec::new().into()),
        };
        tracing::debug!(
            code = kind.code(),
            guard,
            policy = policy.text(),
            reason = %policy.explain(token),
            "request denied by a policy guard"
        );
        Err(PolicyDenied {
            guard,
            kind,
            scopes,
            realm: realm(parts),
        }
        .into())
    }
}

/// Declares a policy guard: a unit struct that, as a handler argument, admits the request only
/// if the token the layer verified satisfies `expression`.
///
/// ```
/// use axum::{Router, routing::get};
/// use cognito_authz_axum::{Claims, PolicyGuard as _, policy_guard};
///
/// policy_guard!(
///     /// Administrators signed in with an id token.
///     pub AdminOnly, "group:admin and token_use:id"
/// );
///
/// async fn delete_user(_: AdminOnly, Claims(claims): Claims) -> String {
///     format!("deleted by {:?}", claims.cognito_username)
/// }
///
/// // Catch a bad expression at start-up instead of on the first request:
/// AdminOnly::validate()?;
/// let app: Router = Router::new().route("/users/{id}", get(delete_user));
/// # Ok::<(), cognito_authz_axum::InvalidGuard>(())
/// ```
///
/// The expression is parsed once (on first use, or by [`PolicyGuard::validate`]); it cannot
/// use `policy:` references (a guard has no policy file). Denials answer exactly as the layer
/// would: 403 `insufficient_scope` with `scope="…"` when scopes alone would
/// allow the request, 403 `forbidden` otherwise, 401 on a public route without a token, 500
/// without a layer or with an invalid expression.
#[macro_export]
macro_rules! policy_guard {
    ($(#[$attr:meta])* $vis:vis $name:ident, $expression:expr $(,)?) => {
        $(#[$attr])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        $vis struct $name;

        impl $crate::PolicyGuard for $name {
            const EXPRESSION: &'static str = $expression;

            fn policy() -> &'static ::core::result::Result<
                $crate::__private::CompiledPolicy,
                $crate::InvalidGuard,
            > {
                static POLICY: ::std::sync::OnceLock<
                    ::core::result::Result<$crate::__private::CompiledPolicy, $crate::InvalidGuard>,
                > = ::std::sync::OnceLock::new();
                POLICY.get_or_init(|| {
                    $crate::__private::compile(::core::stringify!($name), $expression)
                })
            }
        }

        impl<S> $crate::__private::FromRequestParts<S> for $name
        where
            S: ::core::marker::Send + ::core::marker::Sync,
        {
            type Rejection = $crate::AuthzRejection;

            fn from_request_parts(
                parts: &mut $crate::__private::Parts,
                _state: &S,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<Self, Self::Rejection>,
            > + ::core::marker::Send {
                ::core::future::ready(
                    <$name as $crate::PolicyGuard>::check(parts).map(|()| $name),
                )
            }
        }
    };
}

/// Parses and compiles a guard's expression (used by the macro).
pub fn compile(
    guard: &'static str,
    expression: &'static str,
) -> Result<CompiledPolicy, InvalidGuard> {
    let invalid = |message: String| InvalidGuard {
        guard,
        expression,
        message,
    };
    let policy: Policy = expression
        .parse()
        .map_err(|error: cognito_authz_core::PolicyParseError| invalid(error.to_string()))?;
    policy.compile().map_err(|error| invalid(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_expressions_compile_or_say_where_they_are_wrong() {
        let policy = compile("Admins", "group:admin and token_use:id").expect("valid");
        assert_eq!(policy.text(), "group:admin and token_use:id");
        let error = compile("Broken", "group:admin and").expect_err("incomplete");
        assert_eq!(error.guard(), "Broken");
        assert_eq!(error.expression(), "group:admin and");
        assert_eq!(error.message(), "column 16: expected an atom after 'and'");
        // Guards have no policy file: named references cannot resolve.
        assert!(compile("Named", "policy:admin").is_err());
        assert!(compile("Mixed", "public or group:x").is_err());
    }
}
