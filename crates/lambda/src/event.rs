//! The three event shapes an API Gateway Lambda authorizer receives, read into one request:
//! method, path, headers, and what the answer must look like.

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequest, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayV2CustomAuthorizerV2Request,
};
use aws_lambda_events::query_map::QueryMap;
use http::header::COOKIE;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::Value;

use crate::iam::MethodArn;

/// Which kind of authorizer sent the event, which decides the shape of the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// A REST API `TOKEN` authorizer: the token alone, the route from `methodArn`.
    RestToken,
    /// A REST API `REQUEST` authorizer (or an HTTP API with payload format 1.0).
    RestRequest,
    /// An HTTP API authorizer with payload format 2.0 and simple responses.
    HttpApiV2,
}

impl EventKind {
    /// A short name for logs and the response context.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::RestToken => "rest_token",
            EventKind::RestRequest => "rest_request",
            EventKind::HttpApiV2 => "http_api_v2",
        }
    }
}

/// An authorizer event read into what the decision needs.
#[derive(Debug)]
pub(crate) struct AuthorizerRequest {
    pub(crate) kind: EventKind,
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) headers: HeaderMap,
    /// The `methodArn` of REST events: the policy is written for (and matched on) it.
    pub(crate) arn: Option<MethodArn>,
    /// HTTP API `routeKey` (`GET /pets/{id}`, `$default`), for the context.
    pub(crate) route_key: Option<String>,
    /// The path read another way an application behind the API may read it, which guards the
    /// request too: an HTTP API `rawPath` that is the stage alone is the API's `/`, but
    /// lambda_http puts the stage in front of it again (`/prod/prod`) and routes `/prod`.
    pub(crate) also: Option<String>,
    /// The query string, for Cedar routes' context: HTTP API `rawQueryString`; for REST
    /// `REQUEST` events, the query parameters written out again (`TOKEN` events carry none).
    pub(crate) query: Option<String>,
}

/// Why an event could not be read: a wiring problem (wrong trigger, wrong payload version),
/// never the caller's fault, so it is answered as a server error and logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EventError(pub(crate) String);

/// Why an event of `kind` could not be read, without serde's own message: it quotes the value
/// it could not read, which can be a header holding the caller's token, and this text goes to
/// the error log and the invocation's error message.
fn unreadable(kind: &str, error: &serde_json::Error) -> EventError {
    let why = match error.classify() {
        serde_json::error::Category::Data => "a field has a value of the wrong type or form",
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            "it is not well-formed JSON"
        }
        serde_json::error::Category::Io => "it could not be read",
    };
    EventError(format!("{kind} authorizer event: {why}"))
}

impl AuthorizerRequest {
    /// Reads any of the three shapes; `token_header` is where a `TOKEN` event's
    /// `authorizationToken` is placed for the token source to find.
    pub(crate) fn from_value(event: Value, token_header: &HeaderName) -> Result<Self, EventError> {
        let version = event.get("version").and_then(Value::as_str);
        let kind = event.get("type").and_then(Value::as_str);
        match (version, kind) {
            (Some("2.0"), _) => {
                let event: ApiGatewayV2CustomAuthorizerV2Request = serde_json::from_value(event)
                    .map_err(|error| unreadable("HTTP API 2.0", &error))?;
                Ok(Self::from_http_api(event))
            }
            (_, Some("TOKEN")) => {
                let event: ApiGatewayCustomAuthorizerRequest =
                    serde_json::from_value(event).map_err(|error| unreadable("TOKEN", &error))?;
                Self::from_token(&event, token_header)
            }
            (_, Some("REQUEST")) => {
                let event: ApiGatewayCustomAuthorizerRequestTypeRequest =
                    serde_json::from_value(event).map_err(|error| unreadable("REQUEST", &error))?;
                Self::from_request(event)
            }
            _ => Err(EventError(
                "not an API Gateway authorizer event (no type TOKEN or REQUEST, no version 2.0)"
                    .to_owned(),
            )),
        }
    }

    fn from_token(
        event: &ApiGatewayCustomAuthorizerRequest,
        token_header: &HeaderName,
    ) -> Result<Self, EventError> {
        let arn = parse_arn(event.method_arn.as_deref())?;
        let method = parse_method(arn.method())?;
        let mut headers = HeaderMap::new();
        // A token that is not a valid header value is left out: the token source then
        // answers missing_token, i.e. `Unauthorized`, as for any other unusable token.
        if let Some(value) = event
            .authorization_token
            .as_deref()
            .and_then(|token| HeaderValue::from_str(token).ok())
        {
            headers.insert(token_header.clone(), value);
        }
        Ok(Self {
            kind: EventKind::RestToken,
            method,
            path: arn.path().to_owned(),
            headers,
            arn: Some(arn),
            route_key: None,
            also: None,
            query: None,
        })
    }

    fn from_request(
        event: ApiGatewayCustomAuthorizerRequestTypeRequest,
    ) -> Result<Self, EventError> {
        let arn = parse_arn(event.method_arn.as_deref())?;
        let method = parse_method(arn.method())?;
        if let Some(declared) = &event.http_method
            && *declared != method
        {
            return Err(EventError(format!(
                "REQUEST authorizer event: httpMethod {declared} differs from the methodArn's {method}"
            )));
        }
        // multiValueHeaders keeps every copy of a repeated header (two Authorization headers
        // must be refused as they are in-process); `headers` keeps only the last.
        let headers = if event.multi_value_headers.is_empty() {
            event.headers
        } else {
            event.multi_value_headers
        };
        Ok(Self {
            kind: EventKind::RestRequest,
            method,
            path: arn.path().to_owned(),
            headers,
            arn: Some(arn),
            route_key: event.resource,
            also: None,
            query: query_string(if event.multi_value_query_string_parameters.is_empty() {
                &event.query_string_parameters
            } else {
                &event.multi_value_query_string_parameters
            }),
        })
    }

    fn from_http_api(event: ApiGatewayV2CustomAuthorizerV2Request) -> Self {
        let method = event.request_context.http.method.clone();
        let raw = event
            .raw_path
            .or(event.request_context.http.path.clone())
            .unwrap_or_else(|| "/".to_owned());
        let stage = event.request_context.stage.as_deref();
        let path = strip_stage(&raw, stage).to_owned();
        let also = stage
            .filter(|stage| raw.strip_prefix('/') == Some(stage) && path != raw)
            .map(|_| raw.clone());
        let mut headers = event.headers;
        // Payload 2.0 moves cookies out of the headers; the token source reads them there.
        if !event.cookies.is_empty()
            && let Ok(value) = HeaderValue::from_str(&event.cookies.join("; "))
        {
            headers.insert(COOKIE, value);
        }
        Self {
            kind: EventKind::HttpApiV2,
            method,
            path,
            headers,
            arn: event.route_arn.as_deref().and_then(MethodArn::parse),
            route_key: event.route_key,
            also,
            query: event.raw_query_string.filter(|query| !query.is_empty()),
        }
    }
}

/// A REST event's query parameters as a query string (`name=value` pairs, form-encoded, in
/// name order), as the application behind the API receives them; `None` when there are none.
fn query_string(parameters: &QueryMap) -> Option<String> {
    fn encode(text: &str, out: &mut String) {
        for byte in text.bytes() {
            match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    out.push(char::from(byte));
                }
                _ => out.push_str(&format!("%{byte:02X}")),
            }
        }
    }
    let mut pairs: Vec<(&str, &str)> = parameters.iter().collect();
    if pairs.is_empty() {
        return None;
    }
    pairs.sort_unstable();
    let mut query = String::new();
    for (name, value) in pairs {
        if !query.is_empty() {
            query.push('&');
        }
        encode(name, &mut query);
        query.push('=');
        encode(value, &mut query);
    }
    Some(query)
}

fn parse_arn(arn: Option<&str>) -> Result<MethodArn, EventError> {
    let arn = arn.ok_or_else(|| EventError("the event has no methodArn".to_owned()))?;
    MethodArn::parse(arn).ok_or_else(|| EventError(format!("unreadable methodArn {arn:?}")))
}

fn parse_method(method: &str) -> Result<Method, EventError> {
    Method::from_bytes(method.as_bytes())
        .map_err(|_| EventError(format!("unreadable method {method:?} in the methodArn")))
}

/// HTTP APIs put the stage in `rawPath` unless it is `$default`; the application behind the
/// API routes without it.
fn strip_stage<'a>(raw: &'a str, stage: Option<&str>) -> &'a str {
    match stage {
        Some(stage) if stage != "$default" && !stage.is_empty() => {
            match raw
                .strip_prefix('/')
                .and_then(|rest| rest.strip_prefix(stage))
            {
                Some("") => "/",
                Some(rest) if rest.starts_with('/') => rest,
                _ => raw,
            }
        }
        _ => raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_query_parameters_are_written_out_again_form_encoded_in_name_order() {
        let parameters: QueryMap = std::collections::HashMap::from([
            ("q".to_owned(), vec!["a b&c=d".to_owned(), "é".to_owned()]),
            ("debug".to_owned(), vec![String::new()]),
        ])
        .into();
        assert_eq!(
            query_string(&parameters).as_deref(),
            Some("debug=&q=a%20b%26c%3Dd&q=%C3%A9")
        );
        assert_eq!(query_string(&QueryMap::default()), None);
    }

    #[test]
    fn the_stage_is_taken_off_http_api_paths() {
        assert_eq!(strip_stage("/prod/pets/1", Some("prod")), "/pets/1");
        assert_eq!(strip_stage("/prod", Some("prod")), "/");
        assert_eq!(strip_stage("/production/x", Some("prod")), "/production/x");
        assert_eq!(strip_stage("/pets", Some("$default")), "/pets");
        assert_eq!(strip_stage("/pets", None), "/pets");
    }

    #[test]
    fn events_that_are_not_authorizer_events_are_refused() {
        let header = HeaderName::from_static("authorization");
        for event in [
            serde_json::json!({}),
            serde_json::json!({"type": "TOKEN"}),
            serde_json::json!({"type": "TOKEN", "methodArn": "nope"}),
            serde_json::json!({"type": "REQUEST", "methodArn": 7}),
            serde_json::json!({"version": "2.0"}),
            serde_json::json!([1, 2]),
        ] {
            assert!(
                AuthorizerRequest::from_value(event.clone(), &header).is_err(),
                "{event}"
            );
        }
    }
}
