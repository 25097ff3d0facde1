//! lambda_http (feature `lambda-http`): the policy sees the path the API's routes are written
//! in, without the API Gateway stage that lambda_http puts in front of it.
//!
//! lambda_http turns every event into an `http::Request` and leaves the event's request context
//! in the request extensions. For API Gateway events on a named stage (`prod`) the request's
//! path starts with the stage: `/prod/admin/users` where the API's route is `/admin/{proxy+}`.
//! The layer removes it before matching the route table, reading the stage from that context:
//!
//! | event | path lambda_http builds | the policy sees ([`StagePath::Strip`]) |
//! |---|---|---|
//! | REST API, stage `prod` | `/prod/admin/users` | `/admin/users` |
//! | REST API, `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` set | `/admin/users` | `/admin/users` |
//! | HTTP API, stage `$default` | `/admin/users` | `/admin/users` |
//! | HTTP API, stage `prod` (with or without that variable) | `/prod/admin/users` | `/admin/users` |
//! | WebSocket API, stage `prod` | `/prod/…` | `/…` |
//! | ALB, Lambda function URL, VPC Lattice | the path as sent | the path as sent |
//!
//! Only a whole leading segment equal to the stage is removed (`/prod` → `/`, `/production/x`
//! stays). Requests that lambda_http did not build (no request context) are matched on their
//! path as it is.
//!
//! The path the client sent guards the request too. lambda_http builds the URI from the
//! event's raw path (REST `path`, HTTP API `rawPath`) by putting the stage in front and parsing
//! the result as a URL, which resolves `.` and `..` segments, encoded ones included, and can
//! take the stage out again; and a nested router or a middleware in front of the layer may
//! have taken the stage off already. So the layer also reads the raw path the same way (the
//! stage put in front as lambda_http puts it, then taken off once): where the two readings
//! differ, the routes of both must allow the request, and a `.` or `..` segment in the path as
//! sent is refused with 400 `invalid_request`.
//!
//! The router behind the layer must dispatch the same path the policy is matched on, or the
//! policy guards a different route than the one that runs: with the stage removed for the
//! policy, make your router see it removed too (set `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` for
//! REST APIs, deploy HTTP APIs on `$default`, or nest the router under the stage's literal
//! name, `nest("/prod", ..)`, never under a parameter such as `/{stage}`, which takes off
//! whatever segment comes first). With an axum router, enable the `axum` feature: a layer
//! inside `nest` then reads the path before axum took the prefix off. If your route table is
//! written with the stage in its paths, choose [`StagePath::Keep`] with
//! [`AuthzLayer::stage_path`](crate::AuthzLayer::stage_path). A path that matches no route gets
//! the route table's `unmatched` policy: keep that one a policy that denies, so a path the
//! table was not written for is refused rather than let in.

use std::borrow::Cow;

use http::{Extensions, Request};
use lambda_http::RequestExt as _;
use lambda_http::request::RequestContext;

/// Which path the route table is matched on for requests built by lambda_http.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StagePath {
    /// The path without the API Gateway stage: the path the API's routes are written in
    /// (the default).
    #[default]
    Strip,
    /// The path exactly as lambda_http built it, stage included.
    Keep,
}

/// The environment variable with which lambda_http leaves the stage out of REST API paths.
const IGNORE_STAGE_IN_PATH: &str = "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH";

/// The path the policy sees for `request` with the default [`StagePath::Strip`]: its URI path
/// without the API Gateway stage lambda_http put in front of it.
///
/// ```
/// let event = r#"{
///   "resource": "/{proxy+}", "path": "/admin/users", "httpMethod": "GET",
///   "headers": {}, "multiValueHeaders": {}, "queryStringParameters": null,
///   "multiValueQueryStringParameters": null, "pathParameters": null, "stageVariables": null,
///   "requestContext": { "stage": "prod", "httpMethod": "GET", "path": "/prod/admin/users",
///                       "resourcePath": "/{proxy+}", "identity": {} },
///   "body": null, "isBase64Encoded": false
/// }"#;
/// let request = lambda_http::request::from_str(event).unwrap();
/// assert_eq!(request.uri().path(), "/prod/admin/users");
/// assert_eq!(cognito_authz_tower::lambda_policy_path(&request), "/admin/users");
/// ```
pub fn lambda_policy_path<B>(request: &Request<B>) -> &str {
    StagePath::Strip.policy_path(request.uri().path(), request.extensions())
}

impl StagePath {
    /// `path` (the request's URI path) as the policy sees it, given the request's extensions.
    pub(crate) fn policy_path<'a>(self, path: &'a str, extensions: &Extensions) -> &'a str {
        match self {
            StagePath::Keep => path,
            StagePath::Strip => match extensions
                .get::<RequestContext>()
                .and_then(|context| stage_in_path(context, ignore_stage_in_path()))
            {
                Some(stage) => strip_stage(path, stage),
                None => path,
            },
        }
    }

    /// The path the client sent (lambda_http's raw path), read as [`StagePath::policy_path`]
    /// reads the URI path; `None` for requests lambda_http did not build.
    ///
    /// lambda_http builds the URI by putting the stage in front of the raw path and parsing
    /// the result as a URL, which resolves `.` and `..` segments (`%2e%2e` too) and can take
    /// the stage out again; and a router or middleware in front of the layer may have taken
    /// the stage off already. Both readings guard the request, so neither can hand the policy
    /// a path the router does not dispatch on.
    pub(crate) fn sent_path(self, extensions: &Extensions) -> Option<Cow<'_, str>> {
        let context = extensions.get::<RequestContext>()?;
        let raw = extensions.raw_http_path();
        let ignore = ignore_stage_in_path();
        // The path lambda_http built, before `Url::parse` read it: its own rule, to the letter.
        let prefixed = context_stage(context).filter(|stage| *stage != "$default" && !ignore);
        let built = match prefixed {
            Some(stage) if !raw.starts_with(&format!("/{stage}/")) => {
                Cow::Owned(format!("/{stage}{raw}"))
            }
            _ => Cow::Borrowed(raw),
        };
        let built = segmented_as_a_url(built);
        let stripped = match (self, stage_in_path(context, ignore)) {
            (StagePath::Strip, Some(stage)) => match built {
                Cow::Borrowed(built) => Cow::Borrowed(strip_stage(built, stage)),
                Cow::Owned(built) => Cow::Owned(strip_stage(&built, stage).to_owned()),
            },
            _ => built,
        };
        Some(stripped)
    }
}

/// `path` with the changes a URL parser makes to where its segments begin and end (lambda_http
/// parses the path it builds as an `http` URL): a `\` separates segments as `/` does, tabs and
/// line breaks are dropped, and trailing spaces and control characters are trimmed. Its `.`
/// and `..` segments are left as they are, for the route table to refuse.
fn segmented_as_a_url(path: Cow<'_, str>) -> Cow<'_, str> {
    let changed = path.contains(['\\', '\t', '\n', '\r']) || path.ends_with(|c: char| c <= ' ');
    if !changed {
        return path;
    }
    let cleaned: String = path
        .trim_end_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .map(|c| if c == '\\' { '/' } else { c })
        .collect();
    Cow::Owned(cleaned)
}

/// The stage lambda_http put in front of the path, from the event's request context.
/// `ignore`: `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set.
fn stage_in_path(context: &RequestContext, ignore: bool) -> Option<&str> {
    // lambda_http prefixes REST and WebSocket paths with the stage unless told not to; an HTTP
    // API's `rawPath` carries a named stage already (lambda_http adds it if not).
    let told_not_to = matches!(
        context,
        RequestContext::ApiGatewayV1(_) | RequestContext::WebSocket(_)
    ) && ignore;
    context_stage(context).filter(|stage| !told_not_to && !stage.is_empty() && *stage != "$default")
}

/// The stage an API Gateway event's request context names (none for other events).
fn context_stage(context: &RequestContext) -> Option<&str> {
    match context {
        RequestContext::ApiGatewayV1(context) => context.stage.as_deref(),
        RequestContext::ApiGatewayV2(context) => context.stage.as_deref(),
        RequestContext::WebSocket(context) => context.stage.as_deref(),
        _ => None,
    }
}

/// lambda_http's own test for the variable, read the same way so both agree.
fn ignore_stage_in_path() -> bool {
    std::env::var(IGNORE_STAGE_IN_PATH).is_ok()
}

/// `path` without a leading `/{stage}` segment; unchanged if it does not start with one.
fn strip_stage<'a>(path: &'a str, stage: &str) -> &'a str {
    match path
        .strip_prefix('/')
        .and_then(|rest| rest.strip_prefix(stage))
    {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_whole_leading_stage_segment_is_removed() {
        let cases = [
            ("/prod/admin/users", "/admin/users"),
            ("/prod", "/"),
            ("/prod/", "/"),
            ("/production/x", "/production/x"),
            ("/admin/prod/x", "/admin/prod/x"),
            ("/prod/prod/x", "/prod/x"),
            ("prod/x", "prod/x"),
            ("/", "/"),
            ("", ""),
        ];
        for (path, expected) in cases {
            assert_eq!(strip_stage(path, "prod"), expected, "{path}");
        }
    }

    /// A REST event on stage `prod` for `path`, as lambda_http reads it.
    fn rest_request(path: &str) -> Request<lambda_http::Body> {
        let event = serde_json::json!({
            "resource": "/{proxy+}", "path": path, "httpMethod": "GET",
            "headers": {}, "multiValueHeaders": {}, "queryStringParameters": null,
            "multiValueQueryStringParameters": null, "pathParameters": null,
            "stageVariables": null,
            "requestContext": { "stage": "prod", "httpMethod": "GET",
                                "path": format!("/prod{path}"),
                                "resourcePath": "/{proxy+}", "identity": {} },
            "body": null, "isBase64Encoded": false
        });
        lambda_http::request::from_str(&event.to_string()).expect("event")
    }

    #[test]
    fn the_path_as_sent_is_segmented_as_lambda_http_segments_it() {
        // Without dot segments, the path as sent reads exactly as the URI lambda_http built.
        for path in [
            "/admin/users",
            "/prod/edit",
            "/a\\b",
            "/prod\\edit",
            "/a/b ",
            "/a/b\t",
            "/x%2Fy",
            "/caf%C3%A9",
            "/",
        ] {
            let request = rest_request(path);
            let sent = StagePath::Keep
                .sent_path(request.extensions())
                .expect("a lambda_http request");
            assert_eq!(sent, request.uri().path(), "{path:?}");
            let stripped = StagePath::Strip
                .sent_path(request.extensions())
                .expect("a lambda_http request");
            assert_eq!(stripped, lambda_policy_path(&request), "{path:?}");
        }
        // Dot segments stay in the path as sent (lambda_http resolved them in the URI).
        let request = rest_request("/%2e%2e/admin/x");
        assert_eq!(request.uri().path(), "/admin/x");
        assert_eq!(
            StagePath::Strip.sent_path(request.extensions()).as_deref(),
            Some("/%2e%2e/admin/x")
        );
        assert!(StagePath::Strip.sent_path(&Extensions::new()).is_none());
    }

    #[test]
    fn requests_without_a_lambda_context_keep_their_path() {
        let extensions = Extensions::new();
        assert_eq!(
            StagePath::Strip.policy_path("/prod/admin", &extensions),
            "/prod/admin"
        );
    }
}
