//! Events the function cannot read: the answer (a server error, whose message the Lambda
//! runtime reports and logs) and the function's own log must never carry a token.

use cognito_authz_lambda::{AuthorizerError, LambdaAuthorizer};
use serde_json::json;

mod pool;
mod table;
use pool::{ARN_PREFIX, fixture, issuer, runtime};

const TABLE: &str = r#"
[[route]]
path = "/me"
require = "authenticated"
"#;

/// REST `REQUEST`. A header value `http` refuses (here a DEL, `\x7f`, after the token) makes the
/// event unreadable: aws_lambda_events's header deserializer reports the value it refused
/// (`invalid value: string "Bearer eyJ…\u{7f}"`). `LambdaAuthorizer::handle` must not put that
/// text in the `Internal` error it returns (the Lambda runtime reports it as the invocation's
/// `errorMessage`) or in its `error` log line (`reason`): it would be the caller's whole token,
/// in the logs. That is the REST `REQUEST` event (`headers`, `multiValueHeaders`; a `Cookie` header
/// holding a token cookie beside such a byte too). The HTTP API 2.0 event holds: its
/// deserializer says only `failed to parse header value`.
#[test]
fn an_unreadable_header_does_not_echo_the_token() {
    let issuer = issuer();
    let lambda = LambdaAuthorizer::new(table::load(TABLE, &issuer));
    let token = issuer.access_token().sign();
    let value = format!("Bearer {token}\u{7f}");
    let mut http_api = fixture("example-apigw-v2-custom-authorizer-v2-request.json");
    http_api["headers"]["authorization"] = json!(value);
    let mut rest = fixture("example-apigw-custom-auth-request-type-request.json");
    rest["methodArn"] = json!(format!("{ARN_PREFIX}GET/me"));
    rest["httpMethod"] = json!("GET");
    rest["headers"]["Authorization"] = json!(value);
    rest["multiValueHeaders"]["Authorization"] = json!([value]);
    let mut leaks = Vec::new();
    for (name, event) in [("HTTP API 2.0", http_api), ("REST REQUEST", rest)] {
        let answer = runtime().block_on(lambda.handle(event));
        match &answer {
            Err(AuthorizerError::Internal(message)) if message.contains(&token) => {
                leaks.push(format!("{name}: {message}"));
            }
            Err(AuthorizerError::Internal(_) | AuthorizerError::Unauthorized) => {}
            Ok(answer) => panic!("{name}: answered {answer}"),
        }
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}
