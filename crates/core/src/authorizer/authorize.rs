//! The per-request pipeline: route lookup, token extraction, the cookie cross-site check,
//! verification, every guarding route's policy.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use http::Method;

use super::{Authorizer, Decision, Denial};
use crate::edge::token_source::HeaderLookup;
use crate::error::ErrorKind;
use crate::policy::paths::RequestTarget;
use crate::policy::routes::{RouteMatch, RouteMatches};
use crate::reload::Active;
use crate::verify::claims::VerifiedToken;

/// What the synchronous first steps leave to do.
enum Prepared<'a> {
    /// Decided by the route alone (`None`: no route matched).
    Decided(Decision, Option<&'a str>),
    /// Every guarding route is public: the token, if one was sent and passed the cross-site
    /// check, is verified only to be offered to the handler.
    Public {
        raw: Option<&'a [u8]>,
        primary: Option<&'a str>,
    },
    /// The same behind an ALB: its header's identity, if it verifies, is offered; no token the
    /// client sent is read.
    #[cfg(feature = "alb")]
    PublicAlb {
        alb: &'a crate::verify::alb::AlbVerifier,
        primary: Option<&'a str>,
    },
    /// Some route needs an identity: it is verified, then every guarding route decides.
    Guarded {
        guards: RouteMatches<'a>,
        identity: Identity<'a>,
        primary: Option<&'a str>,
    },
}

/// Where a guarded request's identity comes from.
enum Identity<'a> {
    /// The token the token source read (or why there is none).
    Token(Result<&'a [u8], crate::error::Error>),
    /// An ALB in front: its `x-amzn-oidc-data` header.
    #[cfg(feature = "alb")]
    Alb(&'a crate::verify::alb::AlbVerifier),
}

/// The steps after [`Authorizer::prepare`], written once for both entry points. Verification
/// and the decision are resolved by `$resolve`: `awaited` in `authorize`, `ready` in
/// `authorize_now` (ready at once, else the function returns `None`). A token in the
/// verified-token cache is answered without building a verification future, and routes
/// without a `cedar` atom are decided without building a decision future.
macro_rules! finish {
    ($self:ident, $active:ident, $prepared:ident, $method:ident, $target:ident, $headers:ident, $resolve:ident) => {
        match $prepared {
            Prepared::Decided(decision, route) => (decision, route),
            Prepared::Public { raw, primary } => {
                let token = match raw {
                    Some(raw) => verify!($active, raw, $resolve).ok(),
                    None => None,
                };
                (Decision::Allow { token }, primary)
            }
            #[cfg(feature = "alb")]
            Prepared::PublicAlb { alb, primary } => {
                let token = $resolve!(crate::verify::alb::identify(alb, $headers)).ok();
                (Decision::Allow { token }, primary)
            }
            Prepared::Guarded {
                guards,
                identity,
                primary,
            } => {
                let token = match identity {
                    Identity::Token(Ok(raw)) => match $active.verifier.verify_cached(raw) {
                        Some(verified) => verified,
                        None => match $self.inner.token_source.joined_values(raw, $headers) {
                            Some(error) => Err(error),
                            None => $resolve!($active.verifier.verify_not_cached(raw)),
                        },
                    },
                    Identity::Token(Err(error)) => Err(error),
                    #[cfg(feature = "alb")]
                    Identity::Alb(alb) => $resolve!(crate::verify::alb::identify(alb, $headers)),
                };
                let decision = match $self.decide_now(&$active, &guards, $method, $target, token) {
                    Decided::Now(decision) => decision,
                    #[cfg(feature = "cedar")]
                    Decided::Later(future) => $resolve!(future),
                    #[cfg(not(feature = "cedar"))]
                    Decided::Later(never, _) => match never {},
                };
                (decision, primary)
            }
        }
    };
}

/// The token `$raw` verified: from the verified-token cache without building a future, else
/// in full, resolved by `$resolve`.
macro_rules! verify {
    ($active:ident, $raw:ident, $resolve:ident) => {
        match $active.verifier.verify_cached($raw) {
            Some(verified) => verified,
            None => $resolve!($active.verifier.verify_not_cached($raw)),
        }
    };
}

/// A decision made at once, or (a Cedar route) the future that makes it.
enum Decided<'f> {
    Now(Decision),
    #[cfg(feature = "cedar")]
    Later(std::pin::Pin<Box<dyn Future<Output = Decision> + Send + 'f>>),
    /// Without Cedar there is nothing to wait for: never made.
    #[cfg(not(feature = "cedar"))]
    #[expect(
        dead_code,
        reason = "uninhabited: keeps the matches alike with and without Cedar"
    )]
    Later(std::convert::Infallible, std::marker::PhantomData<&'f ()>),
}

/// `future.await`.
macro_rules! awaited {
    ($future:expr) => {
        $future.await
    };
}

/// `future`'s output if ready on the first poll; else the enclosing function returns `None`.
macro_rules! ready {
    ($future:expr) => {
        ready_now($future)?
    };
}

/// `future`'s output if it is ready on the first poll, else `None` (the future is dropped).
fn ready_now<F: Future>(future: F) -> Option<F::Output> {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

impl Authorizer {
    /// Decides a request: route lookup, token extraction, the cookie cross-site check,
    /// verification, policy.
    ///
    /// `headers` is an `http::HeaderMap` or any other [`HeaderLookup`] (for frameworks with
    /// their own header map, such as actix-web): only the headers the token source reads are
    /// looked at (its header and cookie; for a cookie token, `Sec-Fetch-Site`, `Origin` and
    /// `Referer`).
    ///
    /// A cookie token on a state-changing request that another site may have sent (see
    /// [`TokenSource::check_cross_site`](crate::TokenSource::check_cross_site)) is refused
    /// with `cross_site_request` before the token is verified; on a public route such a token
    /// is not offered to the handler.
    ///
    /// `target` is the request path (a `&str`: the path as sent, routed most specific
    /// first, as tower and axum do) or a [`RequestTarget`] saying how the framework routes.
    /// A path with a `.` or `..` segment (as sent or percent-encoded) is refused with 400
    /// `invalid_request`: clients resolve them before sending, and a file server resolves them
    /// from where it is mounted, which no reading of the path can tell. Every route that guards
    /// the request ([`RouteTable::matches`](crate::RouteTable::matches): the routes of the path
    /// as routed, as sent, decoded and normalized) must allow it; `deny` refuses before any
    /// token is read, and only when every guarding route is `public` is verification skipped
    /// (a valid token, if sent, is still returned; an invalid one is ignored). On a token in
    /// the verified-token cache nothing is awaited. Every denial is logged at `debug` with its
    /// code and route, never the token.
    pub async fn authorize<'a, H: HeaderLookup + ?Sized>(
        &self,
        method: &Method,
        target: impl Into<RequestTarget<'a>>,
        headers: &H,
    ) -> Decision {
        // One read of the policy in force: the request finishes on it whatever reloads happen.
        let active = self.inner.live.load();
        let target = target.into();
        let prepared = self.prepare(&active, method, target, headers);
        let (decision, route) = finish!(self, active, prepared, method, target, headers, awaited);
        active.counters.record(route, &decision);
        decision
    }

    /// Everything before the first step that may wait: the route lookup and what it alone
    /// decides (a dot segment, a `deny` route), and the token read from the headers (the
    /// cookie cross-site check included). Both entry points start here, so they decide alike.
    fn prepare<'a, H: HeaderLookup + ?Sized>(
        &'a self,
        active: &'a Active,
        method: &Method,
        target: RequestTarget<'_>,
        headers: &'a H,
    ) -> Prepared<'a> {
        let inner = &*self.inner;
        let guards = active.routes.matches(method, target);
        let primary = guards.primary().pattern();
        if target.has_dot_segments() {
            let reason = "the path has a '.' or '..' segment (clients resolve them before sending)";
            let denial = Denial::new(ErrorKind::InvalidRequest, reason);
            return Prepared::Decided(self.deny(&guards.primary(), method, denial), primary);
        }
        if let Some(denied) = guards.iter().find(|found| found.policy().is_deny()) {
            let denial = Denial::new(ErrorKind::Forbidden, "the route denies every request");
            return Prepared::Decided(self.deny(&denied, method, denial), primary);
        }
        if guards.iter().all(|found| found.policy().is_public()) {
            #[cfg(feature = "alb")]
            if let Some(alb) = &inner.alb {
                return Prepared::PublicAlb { alb, primary };
            }
            // A cookie token that fails the cross-site check is not offered to the handler
            // (the route still answers, as to a request without a token).
            let raw = inner.token_source.extract_raw_checked(method, headers).ok();
            return Prepared::Public { raw, primary };
        }
        #[cfg(feature = "alb")]
        if let Some(alb) = &inner.alb {
            return Prepared::Guarded {
                guards,
                identity: Identity::Alb(alb),
                primary,
            };
        }
        // The cookie cross-site check runs here, before verification: it is cheaper, and a
        // forged request learns nothing about the token it carries.
        let raw = inner.token_source.extract_raw_checked(method, headers);
        Prepared::Guarded {
            guards,
            identity: Identity::Token(raw),
            primary,
        }
    }

    /// [`Authorizer::authorize`], decided at once when nothing has to be awaited (no key set
    /// to fetch: a token in the verified-token cache, or any token whose key is cached), else
    /// `None`: then call `authorize` in a future of your own. This is how an adapter answers
    /// the common case without boxing a future.
    ///
    /// The same steps as `authorize`, in plain calls: only verification (and a Cedar route's
    /// resource loader) is a future, polled once. A `None` is not wasted: the attempt joined
    /// or started the single-flight key fetch, which lives on in the key cache.
    pub fn authorize_now<'a, H: HeaderLookup + ?Sized>(
        &self,
        method: &Method,
        target: impl Into<RequestTarget<'a>>,
        headers: &H,
    ) -> Option<Decision> {
        let active = self.inner.live.load();
        let target = target.into();
        let prepared = self.prepare(&active, method, target, headers);
        let (decision, route) = finish!(self, active, prepared, method, target, headers, ready);
        active.counters.record(route, &decision);
        Some(decision)
    }

    /// A verified identity (or why there is none) against every guarding route's policy: at
    /// once, or — where a policy's `cedar` atom can change the outcome — as a future that asks
    /// Cedar.
    fn decide_now<'f>(
        &'f self,
        active: &'f Active,
        guards: &'f RouteMatches<'_>,
        method: &'f Method,
        target: RequestTarget<'f>,
        token: Result<Arc<VerifiedToken>, crate::error::Error>,
    ) -> Decided<'f> {
        let token = match token {
            Ok(token) => token,
            Err(error) => {
                let denial = Denial::new(error.kind(), error.detail());
                return Decided::Now(self.deny(&guards.primary(), method, denial));
            }
        };
        #[cfg(feature = "cedar")]
        if guards.iter().any(|found| found.policy().uses_cedar()) {
            return Decided::Later(Box::pin(
                self.decide_with_cedar(active, guards, method, target, token),
            ));
        }
        let _ = (&active.cedar, target);
        Decided::Now(self.decide_by_policies(guards, method, token))
    }

    /// Every guarding route's policy, none of them with a `cedar` atom: the first that denies
    /// decides.
    fn decide_by_policies(
        &self,
        guards: &RouteMatches<'_>,
        method: &Method,
        token: Arc<VerifiedToken>,
    ) -> Decision {
        for found in guards.iter() {
            if let Some(denial) = Denial::of_policy(found.policy(), &token) {
                return self.deny(&found, method, denial);
            }
        }
        Decision::Allow { token: Some(token) }
    }

    /// Every guarding route's policy, asking Cedar where a `cedar` atom can change the outcome.
    #[cfg(feature = "cedar")]
    async fn decide_with_cedar(
        &self,
        active: &Active,
        guards: &RouteMatches<'_>,
        method: &Method,
        target: RequestTarget<'_>,
        token: Arc<VerifiedToken>,
    ) -> Decision {
        for found in guards.iter() {
            let (evaluation, cedar) = crate::cedar::hooks::evaluate_guard(
                active.cedar.as_ref(),
                &found,
                method,
                target,
                &token,
            )
            .await;
            // With Cedar asked, the reason carries its account (determining policy ids): for
            // logs and the CLI, never the response.
            let denial = Denial::of_evaluation(found.policy(), &evaluation, || {
                let allowed = cedar.as_ref().is_some_and(|(allowed, _)| *allowed);
                let mut reason = found
                    .policy()
                    .explain_with_cedar(&token, allowed)
                    .to_string();
                if let Some((_, account)) = &cedar {
                    reason.push_str("; ");
                    reason.push_str(account);
                }
                reason
            });
            if let Some(denial) = denial {
                return self.deny(&found, method, denial);
            }
        }
        Decision::Allow { token: Some(token) }
    }

    /// `denial` on the route `found`, in this authorizer's realm, logged at `debug`. Out of
    /// line, so the code of an allowed request stays compact.
    #[cold]
    #[inline(never)]
    fn deny(&self, found: &RouteMatch<'_>, method: &Method, denial: Denial) -> Decision {
        let route = found
            .route()
            .map(|route| Arc::clone(route.shared_pattern()));
        let denial = denial
            .on_route(route)
            .under_policy(found.policy().shared_text())
            .in_realm(self.inner.realm.clone());
        tracing::debug!(
            code = denial.code(),
            route = denial.route().unwrap_or("<unmatched>"),
            method = %method,
            policy = denial.policy(),
            reason = %denial.reason(),
            "request denied"
        );
        Decision::Deny(denial)
    }
}
