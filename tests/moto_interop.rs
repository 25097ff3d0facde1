//! Interop with moto's Cognito server: real user-pool tokens, minted by moto through the AWS API
//! (`InitiateAuth`, `AdminInitiateAuth`) and signed with the key moto serves at
//! `/{pool_id}/.well-known/jwks.json`, verified by the library under its verification rules
//! (`crates/core/docs/verification.md`).
//!
//! moto is a Python package; `scripts/test.sh` installs it into `target/moto-venv` and passes
//! its `moto_server` to this test through `COGNITO_AUTHZ_MOTO`. Without it the tests fail: an
//! interop test that skips itself proves nothing.
//!
//! Where moto differs from real Cognito (checked against moto 5.2.5):
//! - `iss` is the original AWS form `https://cognito-idp.{region}.amazonaws.com/{pool_id}`, so
//!   [`IssuerConfig::user_pool`] works as for a real pool; only the key location is overridden.
//! - Pool ids are `{region}_{32 hex digits}` (real ones: 9 alphanumerics after the `_`).
//! - Every pool of every moto server signs with one fixed RSA-2048 key, `kid` `dummy`, shipped
//!   inside moto (so its private half is public: a test key only). Pools are therefore told
//!   apart by `iss` alone, which the wrong-pool case below relies on.
//! - The header carries `typ: JWT`; real Cognito headers carry only `kid` and `alg`.
//! - Tokens lack `event_id`, and access tokens lack `version`; id tokens carry only the
//!   attributes listed in the client's `ReadAttributes` (real Cognito defaults to all readable
//!   attributes), and no `email_verified`.

use std::fs::File;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cognito_authz_core::{AcceptedTokenUse, ErrorKind, IssuerConfig, TokenUse, Verifier};
use cognito_authz_test_support::free_loopback_port;
use serde_json::{Value, json};

/// A region other than moto's default, so the pool id's region prefix is shown to be honoured.
const REGION: &str = "eu-west-2";
const USERNAME: &str = "alice";
const PASSWORD: &str = "Interop-Passw0rd!";
const EMAIL: &str = "alice@example.com";
const GROUP: &str = "admins";
const MOTO_KID: &str = "dummy";
/// moto's `scope` for tokens from the user-password flows, as real Cognito's.
const SIGNIN_SCOPE: &str = "aws.cognito.signin.user.admin";

/// Connection attempts while moto starts, `READY_POLL` apart: 30 s at most.
const READY_ATTEMPTS: u32 = 300;
const READY_POLL: Duration = Duration::from_millis(100);

/// A `moto_server` child process on 127.0.0.1, killed on drop.
struct MotoServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl MotoServer {
    /// Starts moto on a free loopback port and waits until it accepts connections.
    async fn start() -> Self {
        let program = cognito_authz_test_support::tools::moto_server();
        let port = free_loopback_port();
        let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("moto-{port}.log"));
        let log_file = File::create(&log)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", log.display()));
        let stdout = log_file
            .try_clone()
            .unwrap_or_else(|error| panic!("cannot reopen {}: {error}", log.display()));
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {}: {error}; run `scripts/test.sh` to install moto",
                    program.display()
                )
            });
        let mut server = Self { child, port, log };
        server.wait_until_ready().await;
        server
    }

    async fn wait_until_ready(&mut self) {
        for _ in 0..READY_ATTEMPTS {
            if let Some(status) = self.child.try_wait().expect("moto_server status") {
                panic!(
                    "moto_server exited ({status}) before accepting connections on \
                     127.0.0.1:{}; its log:\n{}",
                    self.port,
                    self.log_text()
                );
            }
            if tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(READY_POLL).await;
        }
        panic!(
            "moto_server did not accept connections on 127.0.0.1:{} within {} s; its log:\n{}",
            self.port,
            (READY_POLL * READY_ATTEMPTS).as_secs(),
            self.log_text()
        );
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_else(|error| format!("(unreadable: {error})"))
    }

    fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // Errors mean the child is already gone, which is what we want.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client of moto's Cognito user-pool API (AWS JSON 1.1 protocol).
struct CognitoApi {
    http: reqwest::Client,
    endpoint: String,
}

impl CognitoApi {
    fn new(server: &MotoServer) -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("HTTP client");
        Self {
            http,
            endpoint: format!("{}/", server.base_url()),
        }
    }

    /// Calls one `AWSCognitoIdentityProviderService` operation and returns its JSON answer.
    async fn call(&self, operation: &str, request: &Value) -> Value {
        // moto takes the region from the credential scope; the signature is not checked.
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=test/20260101/{REGION}/cognito-idp/aws4_request, \
             SignedHeaders=host, Signature=0"
        );
        let response = self
            .http
            .post(&self.endpoint)
            .header("Content-Type", "application/x-amz-json-1.1")
            .header(
                "X-Amz-Target",
                format!("AWSCognitoIdentityProviderService.{operation}"),
            )
            .header("Authorization", authorization)
            .body(request.to_string())
            .send()
            .await
            .unwrap_or_else(|error| panic!("{operation}: {error}"));
        let status = response.status();
        let body = response
            .text()
            .await
            .unwrap_or_else(|error| panic!("{operation}: reading the answer: {error}"));
        assert!(
            status.is_success(),
            "{operation} failed with {status}: {body}"
        );
        serde_json::from_str(&body)
            .unwrap_or_else(|error| panic!("{operation}: answer is not JSON ({error}): {body}"))
    }

    async fn create_user_pool(&self, name: &str) -> String {
        let answer = self
            .call("CreateUserPool", &json!({ "PoolName": name }))
            .await;
        text(&answer, "/UserPool/Id")
    }

    async fn create_client(&self, pool_id: &str, name: &str) -> String {
        let request = json!({
            "UserPoolId": pool_id,
            "ClientName": name,
            "ExplicitAuthFlows": [
                "ALLOW_USER_PASSWORD_AUTH",
                "ALLOW_ADMIN_USER_PASSWORD_AUTH",
                "ALLOW_REFRESH_TOKEN_AUTH",
            ],
            "ReadAttributes": ["email"],
        });
        let answer = self.call("CreateUserPoolClient", &request).await;
        text(&answer, "/UserPoolClient/ClientId")
    }
}

/// The `Value` at `pointer`, which must be a string.
fn text(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {value}"))
        .to_owned()
}

/// Tokens from one sign-in.
struct Tokens {
    id: String,
    access: String,
}

impl Tokens {
    fn from_answer(answer: &Value) -> Self {
        Self {
            id: text(answer, "/AuthenticationResult/IdToken"),
            access: text(answer, "/AuthenticationResult/AccessToken"),
        }
    }
}

/// A moto server with one user pool, two app clients, and a user in a group.
struct MotoCognito {
    server: MotoServer,
    api: CognitoApi,
    pool_id: String,
    client_id: String,
    other_client_id: String,
    user_sub: String,
}

impl MotoCognito {
    async fn start() -> Self {
        let server = MotoServer::start().await;
        let api = CognitoApi::new(&server);
        let pool_id = api.create_user_pool("interop").await;
        let client_id = api.create_client(&pool_id, "web").await;
        let other_client_id = api.create_client(&pool_id, "other").await;
        let user = api
            .call(
                "AdminCreateUser",
                &json!({
                    "UserPoolId": pool_id,
                    "Username": USERNAME,
                    "UserAttributes": [{ "Name": "email", "Value": EMAIL }],
                    "MessageAction": "SUPPRESS",
                }),
            )
            .await;
        let user_sub = user
            .pointer("/User/Attributes")
            .and_then(Value::as_array)
            .and_then(|attributes| {
                attributes
                    .iter()
                    .find(|attribute| attribute["Name"] == "sub")
            })
            .map(|attribute| text(attribute, "/Value"))
            .unwrap_or_else(|| panic!("AdminCreateUser answered no sub: {user}"));
        api.call(
            "AdminSetUserPassword",
            &json!({
                "UserPoolId": pool_id,
                "Username": USERNAME,
                "Password": PASSWORD,
                "Permanent": true,
            }),
        )
        .await;
        api.call(
            "CreateGroup",
            &json!({ "UserPoolId": pool_id, "GroupName": GROUP }),
        )
        .await;
        api.call(
            "AdminAddUserToGroup",
            &json!({ "UserPoolId": pool_id, "Username": USERNAME, "GroupName": GROUP }),
        )
        .await;
        Self {
            server,
            api,
            pool_id,
            client_id,
            other_client_id,
            user_sub,
        }
    }

    /// `InitiateAuth` (`admin`: `AdminInitiateAuth`, which names the pool) of the app client
    /// with `flow` and its parameters; moto's answer.
    async fn initiate_auth(&self, admin: bool, flow: &str, parameters: Value) -> Value {
        let mut request = json!({
            "ClientId": self.client_id,
            "AuthFlow": flow,
            "AuthParameters": parameters,
        });
        let action = if admin {
            request["UserPoolId"] = json!(self.pool_id);
            "AdminInitiateAuth"
        } else {
            "InitiateAuth"
        };
        self.api.call(action, &request).await
    }

    /// `InitiateAuth` with `USER_PASSWORD_AUTH`, as a public client signs in; moto's answer.
    async fn user_password_answer(&self) -> Value {
        let credentials = json!({ "USERNAME": USERNAME, "PASSWORD": PASSWORD });
        self.initiate_auth(false, "USER_PASSWORD_AUTH", credentials)
            .await
    }

    /// Signs in with `USER_PASSWORD_AUTH` (`InitiateAuth`), as a public client would.
    async fn user_password_auth(&self) -> Tokens {
        Tokens::from_answer(&self.user_password_answer().await)
    }

    /// Signs in with `ADMIN_USER_PASSWORD_AUTH` (`AdminInitiateAuth`), as a back end would.
    async fn admin_user_password_auth(&self) -> Tokens {
        let credentials = json!({ "USERNAME": USERNAME, "PASSWORD": PASSWORD });
        let answer = self
            .initiate_auth(true, "ADMIN_USER_PASSWORD_AUTH", credentials)
            .await;
        Tokens::from_answer(&answer)
    }

    fn issuer(&self) -> String {
        format!(
            "https://cognito-idp.{REGION}.amazonaws.com/{}",
            self.pool_id
        )
    }

    /// A verifier for `pool_id` with keys from this moto server's JWKS endpoint for that pool.
    fn verifier_for_pool(
        &self,
        pool_id: &str,
        client_id: &str,
        token_use: AcceptedTokenUse,
    ) -> Verifier {
        let issuer = IssuerConfig::user_pool(pool_id)
            .client_ids([client_id])
            .token_use(token_use)
            .jwks_url(format!(
                "{}/{pool_id}/.well-known/jwks.json",
                self.server.base_url()
            ))
            .build()
            .expect("issuer configuration for a moto pool");
        Verifier::builder()
            .issuer(issuer)
            .build()
            .expect("verifier")
    }

    fn verifier(&self, client_id: &str, token_use: AcceptedTokenUse) -> Verifier {
        self.verifier_for_pool(&self.pool_id, client_id, token_use)
    }
}

/// `token` with one bit of one signature byte flipped, re-encoded canonically.
fn with_flipped_signature_byte(token: &str) -> String {
    let (signed, signature) = token.rsplit_once('.').expect("three segments");
    let mut signature = URL_SAFE_NO_PAD
        .decode(signature)
        .expect("base64url signature");
    let middle = signature.len() / 2;
    signature[middle] ^= 0x01;
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

#[tokio::test]
async fn moto_id_token_from_user_password_auth_verifies_with_its_claims() {
    let moto = MotoCognito::start().await;
    let tokens = moto.user_password_auth().await;

    let verified = moto
        .verifier(&moto.client_id, AcceptedTokenUse::Id)
        .verify(&tokens.id)
        .await
        .expect("moto's id token verifies");

    assert_eq!(verified.issuer(), moto.issuer());
    assert_eq!(verified.kid(), MOTO_KID);
    assert_eq!(verified.token_use(), Some(TokenUse::Id));
    assert_eq!(verified.client_id(), Some(moto.client_id.as_str()));
    assert_eq!(verified.audiences(), std::slice::from_ref(&moto.client_id));
    assert!(verified.in_group(GROUP), "groups: {:?}", verified.groups());
    assert_eq!(verified.username(), Some(USERNAME));
    assert_eq!(verified.sub(), Some(moto.user_sub.as_str()));
    assert_eq!(verified.email(), Some(EMAIL));
    assert!(verified.auth_time().is_some());
    assert!(verified.expires_at() > verified.issued_at().expect("iat"));

    // The id and access token of one sign-in share `origin_jti`, as in Cognito.
    let access = moto
        .verifier(&moto.client_id, AcceptedTokenUse::Any)
        .verify(&tokens.access)
        .await
        .expect("the access token of the same sign-in verifies under token_use any");
    assert!(verified.origin_jti().is_some());
    assert_eq!(verified.origin_jti(), access.origin_jti());
}

#[tokio::test]
async fn moto_access_token_from_admin_user_password_auth_verifies_with_its_claims() {
    let moto = MotoCognito::start().await;
    let tokens = moto.admin_user_password_auth().await;

    let verified = moto
        .verifier(&moto.client_id, AcceptedTokenUse::Access)
        .verify(&tokens.access)
        .await
        .expect("moto's access token verifies");

    assert_eq!(verified.issuer(), moto.issuer());
    assert_eq!(verified.kid(), MOTO_KID);
    assert_eq!(verified.token_use(), Some(TokenUse::Access));
    assert_eq!(verified.client_id(), Some(moto.client_id.as_str()));
    assert!(
        verified.audiences().is_empty(),
        "access tokens carry no aud"
    );
    assert!(verified.in_group(GROUP), "groups: {:?}", verified.groups());
    assert_eq!(verified.username(), Some(USERNAME));
    assert_eq!(verified.sub(), Some(moto.user_sub.as_str()));
    assert!(
        verified.has_scope(SIGNIN_SCOPE),
        "scopes: {:?}",
        verified.scopes()
    );
    assert!(verified.jti().is_some());
    assert!(verified.origin_jti().is_some());
}

#[tokio::test]
async fn moto_tokens_are_rejected_with_the_code_of_the_failed_check() {
    let moto = MotoCognito::start().await;
    let tokens = moto.user_password_auth().await;
    let other_pool_id = moto.api.create_user_pool("other").await;
    let client = moto.client_id.as_str();
    let other_client = moto.other_client_id.as_str();

    // (case, verifier, token, expected kind)
    let cases = [
        (
            "id token at an issuer configured for another client of the pool",
            moto.verifier(other_client, AcceptedTokenUse::Id),
            tokens.id.clone(),
            ErrorKind::InvalidClient,
        ),
        (
            "access token at an issuer configured for another client of the pool",
            moto.verifier(other_client, AcceptedTokenUse::Access),
            tokens.access.clone(),
            ErrorKind::InvalidClient,
        ),
        (
            "id token at an access-only issuer",
            moto.verifier(client, AcceptedTokenUse::Access),
            tokens.id.clone(),
            ErrorKind::InvalidTokenUse,
        ),
        (
            "access token at an id-only issuer",
            moto.verifier(client, AcceptedTokenUse::Id),
            tokens.access.clone(),
            ErrorKind::InvalidTokenUse,
        ),
        (
            "id token with one signature byte flipped",
            moto.verifier(client, AcceptedTokenUse::Id),
            with_flipped_signature_byte(&tokens.id),
            ErrorKind::InvalidSignature,
        ),
        (
            "access token with one signature byte flipped",
            moto.verifier(client, AcceptedTokenUse::Access),
            with_flipped_signature_byte(&tokens.access),
            ErrorKind::InvalidSignature,
        ),
        (
            // moto signs every pool with the same key: only `iss` keeps pools apart.
            "id token at an issuer configured for another pool of the same server",
            moto.verifier_for_pool(&other_pool_id, client, AcceptedTokenUse::Id),
            tokens.id.clone(),
            ErrorKind::InvalidIssuer,
        ),
    ];

    for (case, verifier, token, expected) in cases {
        match verifier.verify(&token).await {
            Ok(verified) => panic!("{case}: accepted, expected {expected}: {verified:?}"),
            Err(error) => assert_eq!(error.kind(), expected, "{case}: {error}"),
        }
    }
}

/// Revocation on moto's tokens (a child module, so it shares this module's moto fixture).
#[path = "moto_revocation.rs"]
mod revocation;

/// moto's tokens through a Cedar route: the principal is `<pool id>|<sub>` in the pool's group,
/// the id token's claims are its attributes and the access token's scopes are in the context,
/// as Amazon Verified Permissions builds them.
#[cfg(feature = "cedar")]
#[tokio::test]
async fn moto_tokens_are_decided_by_cedar_policies() {
    use cognito_authz_core::Authorizer;
    use cognito_authz_test_support::responses::bearer_headers;
    use http::Method;

    let moto = MotoCognito::start().await;
    let tokens = moto.user_password_auth().await;
    let schema = r#"namespace App {
      entity UserGroup;
      entity User in [UserGroup] { "cognito:username"?: String, email?: String };
      entity Application;
      action "get /admin", "get /profile", "get /signin" appliesTo {
        principal: User, resource: Application,
        context: { token?: { scope: Set<String> } }
      };
    }"#;
    let pool = &moto.pool_id;
    let policies = format!(
        r#"permit(principal in App::UserGroup::"{pool}|{GROUP}", action == App::Action::"get /admin", resource);
permit(principal == App::User::"{pool}|{sub}", action == App::Action::"get /profile", resource)
when {{ principal has "cognito:username" && principal["cognito:username"] == "{USERNAME}" && principal has email && principal.email == "{EMAIL}" }};
permit(principal, action == App::Action::"get /signin", resource)
when {{ context has token && context.token.scope.contains("{SIGNIN_SCOPE}") }};
"#,
        sub = moto.user_sub
    );
    let authorizer = crate::cedar::cedar_routes(
        Authorizer::builder().verifier(moto.verifier(&moto.client_id, AcceptedTokenUse::Any)),
        ("App", schema, &policies),
        &["/admin", "/profile", "/signin"],
    );
    let rows = [
        ("/admin", &tokens.id, true),
        ("/admin", &tokens.access, true),
        ("/profile", &tokens.id, true),
        // An access token's claims are context, not principal attributes.
        ("/profile", &tokens.access, false),
        ("/signin", &tokens.access, true),
        ("/signin", &tokens.id, false),
    ];
    for (path, token, allowed) in rows {
        let decision = authorizer
            .authorize(&Method::GET, path, &bearer_headers(token))
            .await;
        assert_eq!(decision.is_allowed(), allowed, "{path}: {decision:?}");
    }
}
