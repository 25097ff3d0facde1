//! An authorizer's Cedar set-up, as types that are empty without the `cedar` feature, so the
//! rest of the authorizer is written once for both builds.

use crate::policy::routes::RouteTable;

/// The Cedar set-up that decides `cedar` atoms (none: no `[cedar]` section or builder call).
#[cfg(feature = "cedar")]
pub(crate) type CedarSetUp = Option<crate::cedar::Cedar>;
/// Without the `cedar` feature there is never a Cedar set-up.
#[cfg(not(feature = "cedar"))]
pub(crate) type CedarSetUp = Option<std::convert::Infallible>;

/// Resource loaders by route pattern, as registered on the builder.
#[cfg(feature = "cedar")]
pub(crate) type Loaders = crate::cedar::hooks::Loaders;
/// Without the `cedar` feature there are no resource loaders.
#[cfg(not(feature = "cedar"))]
#[derive(Clone, Debug, Default)]
pub(crate) struct Loaders {
    _none: (),
}

/// Joins a Cedar set-up, the resource loaders and the route table at start-up (and on each
/// reload), and refuses `cedar` atoms nothing could decide.
///
/// # Errors
/// Loaders without a Cedar set-up, Cedar's own start-up checks, or a `cedar` atom without a
/// set-up (or without the feature).
pub(crate) fn prepare(
    cedar: CedarSetUp,
    loaders: &Loaders,
    routes: &RouteTable,
) -> Result<CedarSetUp, String> {
    #[cfg(feature = "cedar")]
    let cedar = crate::cedar::hooks::attach(cedar, loaders.clone(), routes)?;
    #[cfg(not(feature = "cedar"))]
    let Loaders { .. } = loaders;
    check_cedar_routes(routes, cedar.is_some())?;
    Ok(cedar)
}

/// A `cedar` atom needs a Cedar set-up (and the `cedar` feature): without one it could never
/// hold, so the route would deny everyone behind a policy that reads as if it decided.
fn check_cedar_routes(routes: &RouteTable, configured: bool) -> Result<(), String> {
    if configured {
        return Ok(());
    }
    let needing = routes
        .routes()
        .iter()
        .find(|route| route.policy().uses_cedar())
        .map(|route| format!("route {:?}", route.pattern()))
        .or_else(|| {
            routes
                .unmatched()
                .uses_cedar()
                .then(|| "defaults.unmatched".to_owned())
        });
    match needing {
        None => Ok(()),
        Some(what) if cfg!(feature = "cedar") => Err(format!(
            "{what} uses `cedar` but no Cedar set-up is configured (a [cedar] section, or \
             AuthorizerBuilder::cedar)"
        )),
        Some(what) => Err(format!(
            "{what} uses `cedar`, which needs cognito-authz built with the `cedar` feature"
        )),
    }
}
