//! One policy file, three front doors, the same decisions: each row (method, raw path,
//! token) is sent as raw bytes to an axum app behind the in-process layer on 127.0.0.1, as the
//! three API Gateway authorizer events to the Lambda authorizer, and (feature `alb`) as an
//! ALB-signed `x-amzn-oidc-data` token carrying the same claims to the same app behind the
//! layer in ALB mode (where they grant no groups or scopes: an ALB token's payload is the
//! identity provider's user-info); the cache-safe policy the Lambda returned for the principal's first
//! request must also decide the row as the layer did, as API Gateway would when it answers
//! from its cache.
//!
//! The layer's answer maps to API Gateway's: 200 ↔ Allow / `isAuthorized: true`; 401 and 400
//! ↔ the error `Unauthorized`; 403 ↔ Deny / `isAuthorized: false`.

use std::collections::BTreeMap;
use std::path::Path;

use axum::Router;
use cognito_authz::{AcceptedTokenUse, Authorizer};
use cognito_authz_axum::AuthzLayer;
use cognito_authz_lambda::{AuthorizerError, LambdaAuthorizer};
use cognito_authz_testkit::LocalIssuer;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

#[path = "../crates/lambda/tests/iam/mod.rs"]
mod iam;
use iam::iam_allows;

const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:s4x3opwd6i/test/";

/// What a front door answered, in the layer's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Allowed,
    Unauthorized,
    Forbidden,
}

impl Answer {
    fn from_status(status: u16) -> Self {
        match status {
            200 => Answer::Allowed,
            400 | 401 => Answer::Unauthorized,
            403 => Answer::Forbidden,
            other => panic!("unexpected status {other}"),
        }
    }
}

async fn serve_layer(authorizer: Authorizer) -> std::net::SocketAddr {
    let app = Router::new()
        .fallback(|| async { "handler ran" })
        .layer(AuthzLayer::new(authorizer));
    let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("axum serves");
    });
    address
}

async fn layer_status(
    address: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> u16 {
    let header = token.map(|token| format!("Authorization: Bearer {token}"));
    raw_status(address, method, path, header.as_deref()).await
}

/// The status of a raw HTTP/1.1 request with at most one extra header line.
async fn raw_status(
    address: std::net::SocketAddr,
    method: &str,
    path: &str,
    header: Option<&str>,
) -> u16 {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if let Some(header) = header {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let text = String::from_utf8_lossy(&response);
    text.split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"))
}

fn rest_answer(answer: Result<Value, AuthorizerError>, arn: &str) -> (Answer, Option<Value>) {
    match answer {
        Ok(policy) if iam_allows(&policy, arn) => (Answer::Allowed, Some(policy)),
        Ok(policy) => (Answer::Forbidden, Some(policy)),
        Err(AuthorizerError::Unauthorized) => (Answer::Unauthorized, None),
        Err(other) => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_policy_file_decides_alike_in_the_layer_the_lambda_authorizer_and_behind_an_alb() {
    let issuer = LocalIssuer::builder()
        .pool_id("us-east-1_Example1")
        .client_id("1example23456789")
        .offline()
        .expect("issuer");
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/policy.toml");
    let authorizer = Authorizer::builder()
        .issuers([issuer.issuer_config(AcceptedTokenUse::Access)])
        .clock(issuer.manual_clock().expect("clock").clone())
        .policy_file(&policy)
        .build()
        .expect("authorizer");
    let address = serve_layer(authorizer.clone()).await;
    #[cfg(feature = "alb")]
    let alb = alb_door::AlbDoor::start(&authorizer).await;
    let lambda = LambdaAuthorizer::new(authorizer);

    let user = issuer.access_token().sign();
    let admin = issuer.access_token().groups(["admin"]).sign();
    let reader = issuer.access_token().scopes(["reports/read"]).sign();
    let expired = issuer.access_token().issued_at(0).expires_at(1).sign();
    let tokens: BTreeMap<&str, Option<&str>> = [
        ("none", None),
        ("user", Some(user.as_str())),
        ("admin", Some(admin.as_str())),
        ("reader", Some(reader.as_str())),
        ("expired", Some(expired.as_str())),
        ("garbage", Some("not.a.token")),
    ]
    .into_iter()
    .collect();
    // (method, raw path, principal, what the layer answers)
    let rows = [
        ("GET", "/health", "none", Answer::Allowed),
        ("GET", "/me", "none", Answer::Unauthorized),
        ("GET", "/me", "user", Answer::Allowed),
        ("GET", "/me", "expired", Answer::Unauthorized),
        ("GET", "/me", "garbage", Answer::Unauthorized),
        ("GET", "/admin/users", "user", Answer::Forbidden),
        ("GET", "/admin/users", "admin", Answer::Allowed),
        ("DELETE", "/admin/users/7", "admin", Answer::Allowed),
        ("GET", "/admin", "admin", Answer::Allowed),
        ("GET", "/admin", "user", Answer::Forbidden),
        ("GET", "/reports/1", "user", Answer::Forbidden),
        ("GET", "/reports/1", "reader", Answer::Allowed),
        // A GET route serves HEAD, as axum routes it.
        ("HEAD", "/reports/1", "reader", Answer::Allowed),
        ("DELETE", "/reports/1", "reader", Answer::Forbidden),
        ("GET", "/reports/1/x", "reader", Answer::Forbidden),
        ("GET", "/nowhere", "admin", Answer::Forbidden),
        ("GET", "/", "admin", Answer::Forbidden),
        ("GET", "/reports/../admin/x", "user", Answer::Unauthorized),
        ("GET", "/%61dmin/x", "user", Answer::Forbidden),
    ];
    let mut cached: BTreeMap<&str, Value> = BTreeMap::new();
    for (method, path, principal, expected) in rows {
        let token = tokens[principal];
        let row = format!("{method} {path} as {principal}");
        let layer = Answer::from_status(layer_status(address, method, path, token).await);
        assert_eq!(layer, expected, "{row}: the layer");

        let arn = format!("{ARN}{method}{path}");
        let bearer = token.map(|token| format!("Bearer {token}"));
        // REST TOKEN (API Gateway does not call it without a token).
        if let Some(token) = token {
            let event = json!({"type": "TOKEN", "authorizationToken": token, "methodArn": arn});
            let (answer, policy) = rest_answer(lambda.handle(event).await, &arn);
            assert_eq!(answer, layer, "{row}: TOKEN authorizer");
            if let Some(policy) = policy {
                cached.entry(principal).or_insert(policy);
            }
        }
        // REST REQUEST.
        let mut headers = json!({});
        if let Some(bearer) = &bearer {
            headers["Authorization"] = json!(bearer);
        }
        let event = json!({
            "type": "REQUEST", "methodArn": arn, "resource": "/{proxy+}", "path": path,
            "httpMethod": method, "headers": headers,
            "requestContext": {"path": path, "stage": "test", "httpMethod": method},
        });
        let (answer, policy) = rest_answer(lambda.handle(event).await, &arn);
        assert_eq!(answer, layer, "{row}: REQUEST authorizer");
        if let Some(policy) = policy {
            cached.entry(principal).or_insert(policy);
        }
        // HTTP API payload 2.0.
        let mut headers = json!({});
        if let Some(bearer) = &bearer {
            headers["authorization"] = json!(bearer);
        }
        let event = json!({
            "version": "2.0", "type": "REQUEST", "routeKey": "$default", "rawPath": path,
            "headers": headers,
            "requestContext": {"stage": "$default", "http": {"method": method, "path": path}},
        });
        let answer = match lambda.handle(event).await {
            Ok(response) if response["isAuthorized"] == true => Answer::Allowed,
            Ok(_) => Answer::Forbidden,
            Err(AuthorizerError::Unauthorized) => Answer::Unauthorized,
            Err(other) => panic!("{row}: {other:?}"),
        };
        assert_eq!(answer, layer, "{row}: HTTP API authorizer");
        // Behind an ALB: the same claims in an ALB-signed token (an invalid token stays one).
        // Its payload is the identity provider's user-info, which grants no Cognito groups or
        // scopes whatever it holds: the rows only those let in are refused there.
        #[cfg(feature = "alb")]
        {
            let needs_groups_or_scopes = path.starts_with("/admin") || path.starts_with("/reports");
            let layer = if layer == Answer::Allowed && needs_groups_or_scopes {
                Answer::Forbidden
            } else {
                layer
            };
            let header = alb.header_for(token);
            let status = raw_status(alb.address, method, path, header.as_deref()).await;
            assert_eq!(Answer::from_status(status), layer, "{row}: behind an ALB");
            let status = raw_status(alb.actix_address, method, path, header.as_deref()).await;
            assert_eq!(
                Answer::from_status(status),
                layer,
                "{row}: actix-web behind an ALB"
            );
            // The Lambda authorizer taking its identity from the ALB header too (a REQUEST
            // event that carries it).
            let mut headers = json!({});
            if let Some((name, value)) = header.as_deref().and_then(|h| h.split_once(": ")) {
                headers[name] = json!(value);
            }
            let event = json!({
                "type": "REQUEST", "methodArn": arn, "resource": "/{proxy+}", "path": path,
                "httpMethod": method, "headers": headers,
                "requestContext": {"path": path, "stage": "test", "httpMethod": method},
            });
            let (answer, _) = rest_answer(alb.lambda.handle(event).await, &arn);
            assert_eq!(answer, layer, "{row}: REQUEST authorizer behind an ALB");
        }
    }
    // API Gateway answering from its cache: the first policy of each principal decides every
    // later row of that principal as the layer did (401 rows never reach the cache).
    for (method, path, principal, expected) in rows {
        let Some(policy) = cached.get(principal) else {
            continue;
        };
        if expected == Answer::Unauthorized {
            continue;
        }
        let allowed = iam_allows(policy, &format!("{ARN}{method}{path}"));
        assert_eq!(
            allowed,
            expected == Answer::Allowed,
            "{method} {path} as {principal}: cached policy"
        );
    }
    assert!(cached.len() >= 4, "{:?}", cached.keys());
}

/// The in-process layer in ALB mode: ALB-signed tokens (P-256, padded segments) whose key is
/// served as PEM on 127.0.0.1.
#[cfg(feature = "alb")]
mod alb_door {
    use std::collections::HashMap;

    use aws_lc_rs::encoding::AsDer as _;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    use cognito_authz::{AlbConfig, AlbVerifier, Authorizer};
    use serde_json::{Value, json};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    const ARN: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188";
    const KID: &str = "0f4a8c2e-7d1b-4e3a-9b6c-5d2e1f0a9b8c";
    const CLIENT: &str = "1example23456789";
    const ISS: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example1";

    pub(super) struct AlbDoor {
        pub(super) address: std::net::SocketAddr,
        pub(super) actix_address: std::net::SocketAddr,
        actix: actix_web::dev::ServerHandle,
        key: EcdsaKeyPair,
        /// A Lambda authorizer over the same ALB-mode authorizer.
        pub(super) lambda: cognito_authz_lambda::LambdaAuthorizer,
    }

    impl Drop for AlbDoor {
        fn drop(&mut self) {
            drop(self.actix.stop(false));
        }
    }

    /// The same authorizer as actix-web middleware, on its own runtime thread.
    fn serve_actix(authorizer: Authorizer) -> (std::net::SocketAddr, actix_web::dev::ServerHandle) {
        use actix_web::{App, HttpServer, web};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .wrap(cognito_authz_actix::CognitoAuth::new(authorizer.clone()))
                        .default_service(web::to(|| async { "handler ran" }))
                })
                .workers(1)
                .disable_signals()
                .shutdown_timeout(1)
                .listen(listener)
                .expect("actix listens")
                .run();
                sender.send(server.handle()).expect("handle");
                server.await.expect("actix serves");
            });
        });
        (address, receiver.recv().expect("actix started"))
    }

    impl AlbDoor {
        pub(super) async fn start(authorizer: &Authorizer) -> Self {
            let rng = SystemRandom::new();
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("key");
            let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
                .expect("key");
            let der = key.public_key().as_der().expect("der");
            let pem = format!(
                "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
                STANDARD.encode(der.as_ref())
            );
            let keys: HashMap<String, String> = [(KID.to_owned(), pem)].into_iter().collect();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let base = format!("http://{}/", listener.local_addr().expect("address"));
            tokio::spawn(async move {
                while let Ok((mut socket, _)) = listener.accept().await {
                    let keys = keys.clone();
                    tokio::spawn(async move {
                        let mut buffer = vec![0u8; 2048];
                        let Ok(read) = socket.read(&mut buffer).await else {
                            return;
                        };
                        let request = String::from_utf8_lossy(&buffer[..read]).into_owned();
                        let kid = request
                            .split(' ')
                            .nth(1)
                            .unwrap_or("/")
                            .trim_start_matches('/');
                        let (status, body) = keys
                            .get(kid)
                            .map_or((404, String::new()), |pem| (200, pem.clone()));
                        let response = format!(
                            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = socket.write_all(response.as_bytes()).await;
                    });
                }
            });
            // The ALB's tokens are checked on the same clock as the Cognito tokens.
            let clock = authorizer.verifier().clock().clone();
            let config = AlbConfig::builder()
                .load_balancer_arn(ARN)
                .client_ids([CLIENT])
                .issuer(ISS)
                .key_url_base(base)
                .clock(clock)
                .build()
                .expect("ALB config");
            let verifier = AlbVerifier::new(config).expect("ALB verifier");
            let behind_alb = authorizer.with_alb(verifier);
            let address = super::serve_layer(behind_alb.clone()).await;
            let lambda = cognito_authz_lambda::LambdaAuthorizer::new(behind_alb.clone());
            let (actix_address, actix) = serve_actix(behind_alb);
            Self {
                address,
                actix_address,
                actix,
                key,
                lambda,
            }
        }

        /// The `x-amzn-oidc-data` header an ALB would send for a principal holding `token`:
        /// the token's claims, re-signed by the ALB; an unverifiable token stays unverifiable.
        pub(super) fn header_for(&self, token: Option<&str>) -> Option<String> {
            let token = token?;
            let claims: Option<Value> = token
                .split('.')
                .nth(1)
                .and_then(|payload| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(payload)
                        .ok()
                })
                .and_then(|json| serde_json::from_slice(&json).ok());
            let Some(mut claims) = claims else {
                return Some(format!("x-amzn-oidc-data: {token}"));
            };
            claims["iss"] = json!(ISS);
            let header = json!({"typ": "JWT", "kid": KID, "alg": "ES256", "iss": ISS, "client": CLIENT, "signer": ARN, "exp": claims["exp"]});
            let signing_input = format!(
                "{}.{}",
                URL_SAFE.encode(header.to_string()),
                URL_SAFE.encode(claims.to_string())
            );
            let signature = self
                .key
                .sign(&SystemRandom::new(), signing_input.as_bytes())
                .expect("sign");
            Some(format!(
                "x-amzn-oidc-data: {signing_input}.{}",
                URL_SAFE.encode(signature.as_ref())
            ))
        }
    }
}

/// A revocation store stale beyond its limit, set to refuse, is a 503 in-process
/// (`revocation_unavailable`): the Lambda authorizer answers it as it answers unavailable keys,
/// with a server error (API Gateway's 500), never `Unauthorized` (401, which tells the client to
/// sign in again).
#[tokio::test]
async fn a_stale_revocation_store_is_a_server_error_from_the_lambda_authorizer() {
    use cognito_authz::Decision;
    use cognito_authz::revocation::{RevocationStore, WhenStale};
    use http::{HeaderMap, HeaderValue, Method};

    let issuer = LocalIssuer::offline();
    // Nothing listens on port 1: the store never connects, so its replica is stale from the
    // start.
    let store = RevocationStore::builder()
        .clock(issuer.manual_clock().expect("manual clock").clone())
        .when_stale(WhenStale::Refuse)
        .redis("redis://127.0.0.1:1/0")
        .expect("store");
    let verifier = issuer
        .verifier_builder(AcceptedTokenUse::Any)
        .revocation(store)
        .build()
        .expect("verifier");
    let authorizer = Authorizer::builder()
        .verifier(verifier)
        .route("/me", "authenticated".parse().expect("policy"))
        .build()
        .expect("authorizer");
    let token = issuer.access_token().sign();

    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
    );
    let Decision::Deny(denial) = authorizer.authorize(&Method::GET, "/me", &headers).await else {
        panic!("a stale store set to refuse admits nothing");
    };
    assert_eq!(
        (denial.code(), denial.status().as_u16()),
        ("revocation_unavailable", 503)
    );

    let lambda = LambdaAuthorizer::new(authorizer);
    let event = json!({
        "type": "TOKEN",
        "authorizationToken": format!("Bearer {token}"),
        "methodArn": format!("{ARN}GET/me"),
    });
    let answer = lambda.handle(event).await;
    assert_eq!(
        answer,
        Err(AuthorizerError::Internal(
            "revocation store unavailable".to_owned()
        ))
    );
}
