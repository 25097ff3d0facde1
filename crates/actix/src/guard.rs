//! Policy guards: handler arguments that admit a request only if a fixed policy expression
//! allows its token. Declared with [`policy_guard!`](crate::policy_guard); the trait, the
//! compiled-once cell and the decision are the core's ([`PolicyGuard`](crate::PolicyGuard),
//! [`RequestAuth::guard`](cognito_authz_core::RequestAuth::guard)), shared with axum.

/// Declares a policy guard: a unit struct that, as a handler argument, admits the request only
/// if the token the middleware verified satisfies `expression`.
///
/// ```
/// use actix_web::{HttpResponse, web};
/// use cognito_authz_actix::{Claims, policy_guard, validate_guards};
///
/// policy_guard!(
///     /// Administrators signed in with an id token.
///     pub AdminOnly, "group:admin and token_use:id"
/// );
///
/// async fn delete_user(_: AdminOnly, Claims(claims): Claims) -> HttpResponse {
///     HttpResponse::Ok().body(format!("deleted by {:?}", claims.cognito_username))
/// }
///
/// // Catch a bad expression at start-up instead of on the first request:
/// validate_guards!(AdminOnly)?;
/// let _ = web::resource("/users/{id}").route(web::delete().to(delete_user));
/// # Ok::<(), cognito_authz_actix::GuardError>(())
/// ```
///
/// The expression is compiled once (on first use, or by
/// [`PolicyGuard::validate`](crate::PolicyGuard::validate) or
/// [`validate_guards!`](cognito_authz_core::validate_guards)); it cannot use `policy:` references (a guard
/// has no policy file). Denials answer exactly as the middleware would: 403
/// `insufficient_scope` with `scope="…"` when scopes alone would allow the request, 403
/// `forbidden` otherwise, 401 on a public route without a token, 500 without the middleware
/// or with an invalid expression.
///
/// A typo in the expression fails the build (the syntax, the atoms, `token_use:` values and
/// `policy:` references are checked while compiling; what only the policy compiler can tell,
/// such as `public` combined with other atoms, when the guard is validated or first used):
///
/// ```compile_fail
/// cognito_authz_actix::policy_guard!(Typo, "group:admin and");
/// ```
#[macro_export]
macro_rules! policy_guard {
    ($(#[$attr:meta])* $vis:vis $name:ident, $expression:expr $(,)?) => {
        $crate::__private::__policy_guard_type!($(#[$attr])* $vis $name, $expression);

        impl $crate::__private::FromRequest for $name {
            type Error = $crate::Rejection;
            type Future = ::core::future::Ready<::core::result::Result<Self, $crate::Rejection>>;

            fn from_request(
                request: &$crate::__private::HttpRequest,
                _: &mut $crate::__private::Payload,
            ) -> Self::Future {
                ::core::future::ready($crate::__private::guard::<$name>(request).map(|()| $name))
            }
        }
    };
}

/// What a guard's extractor does: the guard `G` decides the request the middleware let
/// through.
///
/// # Errors
/// No middleware (500), an invalid expression (500), no token (401), the policy denies (403).
pub fn guard<G: cognito_authz_core::PolicyGuard>(
    request: &actix_web::HttpRequest,
) -> Result<(), crate::Rejection> {
    crate::extract::with_auth(request, std::any::type_name::<G>(), |auth| {
        auth.guard::<G>()
    })
}
