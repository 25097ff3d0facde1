//! Which path the route table is matched on: the path the client sent — axum's `OriginalUri`
//! when a router recorded it (feature `axum`: a layer inside `nest` or `nest_service` sees the
//! path with the prefix stripped, the original keeps it), else the request's URI path — and for
//! requests built by lambda_http (feature `lambda-http`) that path without the API Gateway
//! stage.

use std::borrow::Cow;

use http::Extensions;

/// The layer's choice of policy path; nothing to choose without the `lambda-http` feature.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PolicyPath {
    #[cfg(feature = "lambda-http")]
    pub(crate) stage: crate::lambda::StagePath,
}

impl PolicyPath {
    /// The path the policy sees, from the request's URI `path` and its `extensions`.
    #[inline]
    pub(crate) fn of<'a>(self, path: &'a str, extensions: &'a Extensions) -> &'a str {
        #[cfg(feature = "axum")]
        let path = extensions
            .get::<axum::extract::OriginalUri>()
            .map_or(path, |original| original.path());
        #[cfg(feature = "lambda-http")]
        return self.stage.policy_path(path, extensions);
        #[cfg(not(feature = "lambda-http"))]
        {
            let _ = extensions;
            path
        }
    }

    /// The client's path as sent, read as [`PolicyPath::of`] reads the URI path, where the
    /// URI was rebuilt from it (requests built by lambda_http); `None` elsewhere.
    #[inline]
    pub(crate) fn sent(self, extensions: &Extensions) -> Option<Cow<'_, str>> {
        #[cfg(feature = "lambda-http")]
        return self.stage.sent_path(extensions);
        #[cfg(not(feature = "lambda-http"))]
        {
            let _ = extensions;
            None
        }
    }
}
