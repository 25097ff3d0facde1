//! Which path of a request the policy is looked up on.

use http::{Extensions, Uri};

/// The path the client sent, which the policy file is written in: axum's `OriginalUri` when
/// a router recorded it (a layer inside `nest` or `nest_service` sees the path with the
/// prefix stripped, the original keeps it), else the request's own path.
pub(crate) fn policy_path<'a>(uri: &'a Uri, extensions: &'a Extensions) -> &'a str {
    #[cfg(feature = "axum")]
    if let Some(original) = extensions.get::<axum::extract::OriginalUri>() {
        return original.path();
    }
    #[cfg(not(feature = "axum"))]
    let _ = extensions;
    uri.path()
}
