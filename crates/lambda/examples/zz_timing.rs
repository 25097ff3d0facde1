//! Scratch timing (not committed).
use std::time::Instant;

use cognito_authz_core::{AcceptedTokenUse, Authorizer};
use cognito_authz_lambda::LambdaAuthorizer;
use cognito_authz_testkit::LocalIssuer;
use serde_json::json;

fn main() {
    let issuer = LocalIssuer::builder()
        .pool_id("us-east-1_Example1")
        .client_id("1example23456789")
        .offline()
        .unwrap();
    let mut text = String::from(
        "[[issuer]]\nname = \"main\"\nuser_pool_id = \"us-east-1_Example1\"\nclient_ids = [\"1example23456789\"]\ntoken_use = \"any\"\n",
    );
    let policies = [
        "authenticated",
        "group:admin",
        "scope:api/read",
        "group:staff or group:admin",
        "public",
    ];
    let mut n = 0;
    'outer: for area in 0..40 {
        for shape in [
            "/a{area}/items",
            "/a{area}/items/{id}",
            "/a{area}/items/{id}/notes",
            "/a{area}/items/{id}/notes/{note}",
            "/a{area}/files/{*rest}",
            "/a{area}/settings",
            "/a{area}/export",
        ] {
            if n == 302 {
                break 'outer;
            }
            let path = shape.replace("{area}", &area.to_string());
            let policy = policies[n % policies.len()];
            let methods = if n % 4 == 0 {
                "methods = [\"GET\", \"HEAD\"]\n"
            } else {
                ""
            };
            text.push_str(&format!(
                "[[route]]\npath = \"{path}\"\n{methods}require = \"{policy}\"\n\n"
            ));
            n += 1;
        }
    }
    let authorizer = Authorizer::builder()
        .issuers([issuer.issuer_config(AcceptedTokenUse::Any)])
        .clock(issuer.manual_clock().unwrap().clone())
        .policy_text(text, ".")
        .build()
        .unwrap();
    println!("routes: {}", authorizer.routes().routes().len());
    let lambda = LambdaAuthorizer::new(authorizer);
    let token = issuer
        .access_token()
        .groups(["staff"])
        .scopes(["api/read"])
        .sign();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let event = json!({"type": "TOKEN", "authorizationToken": format!("Bearer {token}"), "methodArn": "arn:aws:execute-api:us-east-1:123456789012:s4x3opwd6i/test/GET/a1/items"});
    for i in 0..3 {
        let t = Instant::now();
        let answer = rt.block_on(lambda.handle(event.clone())).unwrap();
        println!(
            "request {i}: {:?}, {} bytes, stats {:?}",
            t.elapsed(),
            answer.to_string().len(),
            lambda.policy_cache_stats()
        );
    }
    let anon = json!({"type": "TOKEN", "authorizationToken": "", "methodArn": "arn:aws:execute-api:us-east-1:123456789012:s4x3opwd6i/test/GET/a4/items"});
    let _ = anon;
}
