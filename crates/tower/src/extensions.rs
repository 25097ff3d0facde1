//! What the layer leaves in request extensions besides the verified token.

use std::sync::Arc;

/// Inserted by the layer instead of a token when it lets a request through without one (a
/// public route without a valid token), so extractors can tell "the
/// layer ran, nobody signed in" from "no layer at all".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NoToken;

/// The realm of the authorizer's challenges, inserted (only when one is configured) so
/// extractors that reject later answer with the same `WWW-Authenticate` as the layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Realm(Arc<str>);

impl Realm {
    pub(crate) fn new(realm: &str) -> Self {
        Self(Arc::from(realm))
    }

    /// The realm text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
