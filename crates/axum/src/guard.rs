//! Policy guards: handler arguments that admit a request only if a fixed policy expression
//! allows its token. Declared with [`policy_guard!`](crate::policy_guard); the trait, the
//! compiled-once cell and the decision are the core's ([`PolicyGuard`](crate::PolicyGuard),
//! [`RequestAuth::guard`](cognito_authz_core::RequestAuth::guard)), shared with actix-web.

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
/// # Ok::<(), cognito_authz_axum::GuardError>(())
/// ```
///
/// The expression is compiled once (on first use, or by [`PolicyGuard::validate`](crate::PolicyGuard::validate), or for a
/// list of guards by [`validate_guards!`](cognito_authz_core::validate_guards)); it cannot
/// use `policy:` references (a guard has no policy file). Denials answer exactly as the layer
/// would: 403 `insufficient_scope` with `scope="…"` when scopes alone would
/// allow the request, 403 `forbidden` otherwise, 401 on a public route without a token, 500
/// without a layer or with an invalid expression.
///
/// A typo in the expression fails the build (the syntax, the atoms, `token_use:` values and
/// `policy:` references are checked while compiling; what only the policy compiler can tell,
/// such as `public` combined with other atoms, when the guard is validated or first used):
///
/// ```compile_fail
/// cognito_authz_axum::policy_guard!(Typo, "group:admin and");
/// ```
#[macro_export]
macro_rules! policy_guard {
    ($(#[$attr:meta])* $vis:vis $name:ident, $expression:expr $(,)?) => {
        $crate::__private::__policy_guard_type!($(#[$attr])* $vis $name, $expression);

        impl<S> $crate::__private::FromRequestParts<S> for $name
        where
            S: ::core::marker::Send + ::core::marker::Sync,
        {
            type Rejection = $crate::Rejection;

            fn from_request_parts(
                parts: &mut $crate::__private::Parts,
                _state: &S,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<Self, Self::Rejection>,
            > + ::core::marker::Send {
                ::core::future::ready($crate::__private::guard::<$name>(parts).map(|()| $name))
            }
        }
    };
}

/// What a guard's extractor does: the guard `G` decides the request the layer let through.
///
/// # Errors
/// No layer (500), an invalid expression (500), no token (401), the policy denies (403).
pub fn guard<G: cognito_authz_core::PolicyGuard>(
    parts: &http::request::Parts,
) -> Result<(), crate::Rejection> {
    let auth = crate::extract::request_auth(parts, std::any::type_name::<G>())?;
    Ok(auth.guard::<G>()?)
}
