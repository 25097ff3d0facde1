//! Where the authorizer meets Cedar: resource-loader lists, the start-up checks, and the
//! decision of one guarding route whose policy has a `cedar` atom.

use std::fmt;
use std::sync::Arc;

use super::{Cedar, ResourceLoader};
use crate::policy::Evaluation;
use crate::policy::paths::RequestTarget;
use crate::policy::routes::RouteMatch;
use crate::verify::claims::VerifiedToken;

/// Resource loaders by route pattern, as registered before the authorizer is built.
#[derive(Clone, Default)]
pub(crate) struct Loaders(pub(crate) Vec<(String, Arc<dyn ResourceLoader>)>);

impl fmt::Debug for Loaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(pattern, _)| pattern))
            .finish()
    }
}

/// Joins a Cedar set-up, its loaders and the route table at start-up.
///
/// # Errors
/// Loaders without a Cedar set-up, or the checks of [`Cedar::prepare`].
pub(crate) fn attach(
    cedar: Option<Cedar>,
    loaders: Loaders,
    routes: &crate::policy::routes::RouteTable,
) -> Result<Option<Cedar>, String> {
    let Some(mut cedar) = cedar else {
        if let Some((pattern, _)) = loaders.0.first() {
            return Err(format!(
                "a resource loader is registered for {pattern:?} but no Cedar set-up is configured"
            ));
        }
        return Ok(None);
    };
    for (pattern, loader) in loaders.0 {
        cedar = cedar.with_resource_loader(pattern, loader);
    }
    cedar.prepare(routes).map(Some)
}

/// The evaluation of one guarding route, and the Cedar decision's outcome and account when
/// Cedar was asked.
///
/// `cedar` only appears in positive positions, so the policy is monotone in it: when it
/// denies with `cedar` taken as allowed, or allows with it taken as denied, Cedar is not
/// asked (no resource is loaded).
pub(crate) async fn evaluate_guard(
    cedar: Option<&Cedar>,
    found: &RouteMatch<'_>,
    method: &http::Method,
    target: RequestTarget<'_>,
    token: &Arc<VerifiedToken>,
) -> (Evaluation, Option<(bool, String)>) {
    let policy = found.policy();
    if !policy.uses_cedar() {
        return (policy.evaluate(token), None);
    }
    if !policy.evaluate_with_cedar(token, true).is_allowed() {
        return (policy.evaluate_with_cedar(token, false), None);
    }
    let without = policy.evaluate_with_cedar(token, false);
    if without.is_allowed() {
        return (without, None);
    }
    let (Some(cedar), Some(pattern)) = (cedar, found.pattern()) else {
        let reason = "cedar: no Cedar set-up for this route".to_owned();
        return (without, Some((false, reason)));
    };
    let decision = cedar
        .decide(method, pattern, target.path(), target.query(), token)
        .await;
    let allowed = decision.is_allowed();
    (
        policy.evaluate_with_cedar(token, allowed),
        Some((allowed, decision.reason().to_owned())),
    )
}
