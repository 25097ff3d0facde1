//! The extractor and rejection types both adapters declare: the same names, fields and methods
//! in `cognito-authz-axum` and `cognito-authz-actix`, written once here.
//!
//! They must be declared in each adapter crate (Rust lets a crate implement a framework's
//! extractor trait only for its own types), so this is a macro the adapters call; each then adds
//! its framework's trait implementations, which are all that differ.

/// Declares, in the calling adapter crate, the shared extractor types (`Claims<T>`,
/// `OptionalClaims<T>`, `Verified`, `IdToken`, `AccessToken`, `Groups`, `Scopes`) and the
/// `Rejection` newtype. Not for use outside the adapters.
#[doc(hidden)]
#[macro_export]
macro_rules! __adapter_types {
    () => {
        /// The verified token's payload deserialized into `T` (default:
        /// [`CognitoClaims`](cognito_authz_core::CognitoClaims)), `custom:*` attributes
        /// included.
        ///
        /// The value is shared: it is deserialized once per token and type and kept with the
        /// verified token ([`VerifiedToken::shared_claims`](cognito_authz_core::VerifiedToken::shared_claims)),
        /// so with the verifier's verified-token cache a repeated token's claims cost a
        /// reference count, not a parse. Read fields through the `Arc` (`claims.username`),
        /// clone what you keep, or take `T` with `into_inner`.
        ///
        /// Refused with 401 without a token (take [`OptionalClaims`] on public routes) and 403
        /// `forbidden` when the payload does not fit `T`
        /// ([`RejectionKind::InvalidClaims`](cognito_authz_core::RejectionKind::InvalidClaims)).
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct Claims<T = cognito_authz_core::CognitoClaims>(pub ::std::sync::Arc<T>);

        impl<T: Clone> Claims<T> {
            /// The claims as an owned `T`: moved out when no one else holds them, cloned
            /// otherwise (as they are while the token sits in the verified-token cache).
            pub fn into_inner(self) -> T {
                ::std::sync::Arc::unwrap_or_clone(self.0)
            }
        }

        impl<T> ::std::ops::Deref for Claims<T> {
            type Target = T;

            fn deref(&self) -> &T {
                &self.0
            }
        }

        /// [`Claims<T>`] when the request has a token, `None` on a `public` route without
        /// one. Claims that do not fit `T` are still 403, and a missing layer or middleware
        /// still 500.
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct OptionalClaims<T = cognito_authz_core::CognitoClaims>(
            pub Option<::std::sync::Arc<T>>,
        );

        impl<T: Clone> OptionalClaims<T> {
            /// The claims as an owned `T`, if any.
            pub fn into_inner(self) -> Option<T> {
                self.0.map(::std::sync::Arc::unwrap_or_clone)
            }
        }

        $crate::__token_type!(
            /// The verified token itself, shared: every standard claim parsed
            /// ([`VerifiedToken::username`](cognito_authz_core::VerifiedToken::username),
            /// [`VerifiedToken::groups`](cognito_authz_core::VerifiedToken::groups), …) and the
            /// raw payload.
            Verified
        );
        $crate::__token_type!(
            /// A verified **id** token (`token_use = "id"`); an access token is refused with 403
            /// `forbidden`, as the policy `token_use:id` would answer.
            IdToken
        );
        $crate::__token_type!(
            /// A verified **access** token (`token_use = "access"`); an id token is refused
            /// with 403 `forbidden`.
            AccessToken
        );
        $crate::__names_type!(
            /// The token's `cognito:groups` (empty when absent), as a list of names
            /// ([`Names`](cognito_authz_core::Names)).
            Groups,
            groups,
            in_group,
            /// Whether the user is in `name`.
        );
        $crate::__names_type!(
            /// The token's scopes (`scope` split on spaces, sorted, deduplicated), as a list of
            /// names ([`Names`](cognito_authz_core::Names)).
            Scopes,
            scopes,
            has_scope,
            /// Whether the token grants `name` (exact, case-sensitive).
        );

        /// An extractor's or policy guard's refusal; see
        /// [`RejectionKind`](cognito_authz_core::RejectionKind) for the kinds and their
        /// statuses. Dereferences to the core's [`Rejection`](cognito_authz_core::Rejection)
        /// (`kind()`, `status()`, `denial()`, …); a denial answers with the same bytes as the
        /// layer or middleware.
        ///
        /// Take `Result<Claims, Rejection>` (or any other extractor) in a handler to see it
        /// instead of answering at once.
        #[derive(Debug, Clone)]
        pub struct Rejection(cognito_authz_core::Rejection);

        impl Rejection {
            /// The core's rejection.
            pub fn into_inner(self) -> cognito_authz_core::Rejection {
                self.0
            }
        }

        impl ::std::ops::Deref for Rejection {
            type Target = cognito_authz_core::Rejection;

            fn deref(&self) -> &cognito_authz_core::Rejection {
                &self.0
            }
        }

        impl From<cognito_authz_core::Rejection> for Rejection {
            fn from(rejection: cognito_authz_core::Rejection) -> Self {
                Self(rejection)
            }
        }

        impl ::std::error::Error for Rejection {
            fn source(&self) -> Option<&(dyn ::std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
    };
}

/// A newtype over the shared verified token, with `Deref` and `into_inner`.
#[doc(hidden)]
#[macro_export]
macro_rules! __token_type {
    ($(#[$attr:meta])* $name:ident) => {
        $(#[$attr])*
        #[derive(Debug, Clone)]
        pub struct $name(pub ::std::sync::Arc<cognito_authz_core::VerifiedToken>);

        impl $name {
            /// The shared token.
            pub fn into_inner(self) -> ::std::sync::Arc<cognito_authz_core::VerifiedToken> {
                self.0
            }
        }

        impl ::std::ops::Deref for $name {
            type Target = cognito_authz_core::VerifiedToken;

            fn deref(&self) -> &cognito_authz_core::VerifiedToken {
                &self.0
            }
        }
    };
}

/// A view of one list of names of the verified token (`Deref` to `Names`, `contains`).
#[doc(hidden)]
#[macro_export]
macro_rules! __names_type {
    ($(#[$attr:meta])* $name:ident, $list:ident, $contains:ident, $(#[$contains_attr:meta])*) => {
        $(#[$attr])*
        #[derive(Debug, Clone)]
        pub struct $name(::std::sync::Arc<cognito_authz_core::VerifiedToken>);

        impl $name {
            $(#[$contains_attr])*
            pub fn contains(&self, name: &str) -> bool {
                self.0.$contains(name)
            }
        }

        impl ::std::ops::Deref for $name {
            type Target = cognito_authz_core::Names;

            fn deref(&self) -> &cognito_authz_core::Names {
                self.0.$list()
            }
        }
    };
}

/// Checks the expressions of every listed policy guard, for start-up: the first that does not
/// parse or compile is the error. Both adapters re-export it.
///
/// ```
/// use cognito_authz_core::{GuardCell, PolicyGuard, validate_guards};
///
/// struct Admins;
/// impl PolicyGuard for Admins {
///     const EXPRESSION: &'static str = "group:admin";
///     fn cell() -> &'static GuardCell {
///         static CELL: GuardCell = GuardCell::new();
///         &CELL
///     }
/// }
/// validate_guards!(Admins)?;
/// # Ok::<(), cognito_authz_core::GuardError>(())
/// ```
#[macro_export]
macro_rules! validate_guards {
    ($($guard:ty),+ $(,)?) => {
        (|| -> ::core::result::Result<(), $crate::GuardError> {
            $(<$guard as $crate::PolicyGuard>::validate()?;)+
            ::core::result::Result::Ok(())
        })()
    };
}

/// The part of an adapter's `policy_guard!` that does not depend on the framework: the unit
/// struct, its [`PolicyGuard`](crate::PolicyGuard) implementation, and the build-time check of
/// its expression.
#[doc(hidden)]
#[macro_export]
macro_rules! __policy_guard_type {
    ($(#[$attr:meta])* $vis:vis $name:ident, $expression:expr) => {
        $(#[$attr])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        $vis struct $name;

        impl $crate::PolicyGuard for $name {
            const EXPRESSION: &'static str = $expression;

            fn cell() -> &'static $crate::GuardCell {
                static CELL: $crate::GuardCell = $crate::GuardCell::new();
                &CELL
            }
        }

        // A typo in the expression fails the build (what only the parser can tell is checked
        // when the guard is validated or first used).
        const _: () = if let ::core::option::Option::Some(message) =
            $crate::__guard_syntax_error(<$name as $crate::PolicyGuard>::EXPRESSION)
        {
            ::core::panic!("{}", message)
        };
    };
}

/// Invokes the adapter's `$extractor!` once per extractor made from the verified token, with
/// how it is made (`|auth, token| …` over the core's `RequestAuth`): the one list of
/// extractors and their rules, whatever the framework. The call site must have
/// `DeserializeOwned`, `Arc`, `TokenUse` and the extractor types in scope.
#[doc(hidden)]
#[macro_export]
macro_rules! __for_each_extractor {
    ($extractor:ident) => {
        $extractor!([T: DeserializeOwned + Send + Sync + 'static] Claims<T>, "Claims", |auth, token| auth.claims("Claims", token).map(Claims));
        $extractor!([] Verified, "Verified", |_auth, token| Ok(Verified(Arc::clone(token))));
        $extractor!([] IdToken, "IdToken", |auth, _token| auth.of_use("IdToken", TokenUse::Id).map(|token| IdToken(Arc::clone(token))));
        $extractor!([] AccessToken, "AccessToken", |auth, _token| auth.of_use("AccessToken", TokenUse::Access).map(|token| AccessToken(Arc::clone(token))));
        $extractor!([] Groups, "Groups", |_auth, token| Ok(Groups(Arc::clone(token))));
        $extractor!([] Scopes, "Scopes", |_auth, token| Ok(Scopes(Arc::clone(token))));
    };
}
